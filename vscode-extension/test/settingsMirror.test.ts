// The `rill.*` settings in package.json must mirror the server's keys exactly: same names, kinds,
// defaults and ranges as server/src/config.rs, plus the client's own `rill.serverPath`.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import { parseConfig, parseKeys } from './rustConfig';

const root = path.resolve(__dirname, '..', '..', '..');
const configRs = fs.readFileSync(path.join(root, 'server', 'src', 'config.rs'), 'utf8');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'vscode-extension', 'package.json'), 'utf8'));
const properties: Record<string, Record<string, unknown>> = pkg.contributes.configuration.properties;
const CLIENT_ONLY = ['rill.serverPath'];

function types(prop: Record<string, unknown>): string[] {
  const t = prop.type;
  return Array.isArray(t) ? (t as string[]) : [t as string];
}

test('the parser reads every key of config.rs (guards the mirror test itself)', () => {
  const specs = parseConfig(configRs);
  assert.equal(specs.length, parseKeys(configRs).length);
  const maxTokens = specs.find((s) => s.key === 'completion.maxTokens');
  assert.deepEqual(maxTokens, {
    key: 'completion.maxTokens',
    kind: 'integer',
    default: 64,
    min: 1,
    max: 1024,
  });
  const topP = specs.find((s) => s.key === 'completion.topP');
  assert.equal(topP?.exclusiveMin, true);
  // Defaults that name a constant are resolved to the constant's value.
  const constant = /pub const DEFAULT_MIN_SURPRISE: f32 = ([\d.]+);/.exec(configRs)?.[1];
  assert.ok(constant !== undefined);
  assert.equal(specs.find((s) => s.key === 'diagnostics.minSurprise')?.default, Number(constant));
  assert.deepEqual(specs.find((s) => s.key === 'completion.multiline')?.enumValues, [
    'auto',
    'always',
    'never',
  ]);
});

test('package.json has exactly the server keys plus rill.serverPath', () => {
  const expected = [...parseKeys(configRs).map((k) => `rill.${k}`), ...CLIENT_ONLY].sort();
  assert.deepEqual(Object.keys(properties).sort(), expected);
});

for (const spec of parseConfig(configRs)) {
  test(`rill.${spec.key} mirrors the server (${spec.kind}, default ${JSON.stringify(spec.default)})`, () => {
    const prop = properties[`rill.${spec.key}`];
    assert.ok(prop, 'missing from package.json');
    const declared = types(prop);
    const baseType = spec.kind === 'enum' ? 'string' : spec.kind;
    assert.ok(declared.includes(baseType), `type ${JSON.stringify(prop.type)} lacks ${baseType}`);
    if (spec.default === null) {
      if (spec.kind === 'string') {
        // The settings UI shows an unset path as ""; the server reads "" as unset.
        assert.equal(prop.default, '');
      } else {
        assert.equal(prop.default, null);
        assert.ok(declared.includes('null'), 'an unset-by-default key must accept null');
      }
    } else {
      assert.deepEqual(prop.default, spec.default);
    }
    if (spec.kind === 'integer' || spec.kind === 'number') {
      assert.equal(prop.maximum, spec.max, 'maximum');
      if (spec.exclusiveMin) {
        assert.equal(prop.exclusiveMinimum, spec.min, 'exclusiveMinimum');
        assert.equal(prop.minimum, undefined);
      } else {
        assert.equal(prop.minimum, spec.min, 'minimum');
      }
      const description = String(prop.markdownDescription ?? prop.description ?? '');
      assert.match(
        description,
        new RegExp(`${spec.min}\\b.*\\b${spec.max}`),
        'the description states the range',
      );
    }
    if (spec.kind === 'enum') {
      assert.deepEqual(prop.enum, spec.enumValues);
    }
  });
}

test('rill.serverPath is a string defaulting to empty (use the bundled binary or PATH)', () => {
  const prop = properties['rill.serverPath'];
  assert.ok(prop);
  assert.equal(prop.type, 'string');
  assert.equal(prop.default, '');
});

test('the commands the brief names are contributed', () => {
  const ids = (pkg.contributes.commands as Array<{ command: string }>).map((c) => c.command);
  for (const id of [
    'rill.enable',
    'rill.disable',
    'rill.toggle',
    'rill.triggerSuggestion',
    'rill.restartServer',
    'rill.showLog',
  ]) {
    assert.ok(ids.includes(id), `${id} missing`);
  }
});
