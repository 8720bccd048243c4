// Bundles the extension and its one runtime dependency (vscode-languageclient) into dist/extension.js,
// so the .vsix ships a single file instead of node_modules.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/extension.ts'],
  bundle: true,
  outfile: 'dist/extension.js',
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Provided by VS Code at run time.
  external: ['vscode'],
  sourcemap: true,
  minify: true,
  logLevel: 'warning',
});
