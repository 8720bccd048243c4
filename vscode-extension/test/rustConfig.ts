// Test helper: reads the server's settings (names, kinds, ranges, defaults) out of
// server/src/config.rs, so the package.json mirror is compared with the server's source of truth rather
// than with a copy that could drift along with it.

export type Kind = 'integer' | 'number' | 'boolean' | 'string' | 'enum';

export interface KeySpec {
  key: string;
  kind: Kind;
  /** The default as JSON: null for an unset Option. */
  default: unknown;
  min?: number;
  max?: number;
  /** `number_in(..., true)`: the minimum itself is not allowed. */
  exclusiveMin?: boolean;
  enumValues?: string[];
}

function num(text: string): number {
  return Number(text.replace(/_/g, ''));
}

/** The text of the block that starts at `start` (at or after its opening brace) up to its closing brace. */
function block(source: string, start: number): string {
  const open = source.indexOf('{', start);
  let depth = 0;
  for (let i = open; i < source.length; i++) {
    if (source[i] === '{') depth++;
    else if (source[i] === '}') {
      depth--;
      if (depth === 0) return source.slice(open + 1, i);
    }
  }
  throw new Error('unbalanced braces in config.rs');
}

function mustFind(source: string, needle: string): number {
  const at = source.indexOf(needle);
  if (at < 0) throw new Error(`config.rs no longer contains ${needle}`);
  return at;
}

/** Splits a `match key { "a" => ..., "b" => ... }` body into its arms, keyed by the string. */
function arms(body: string): Map<string, string> {
  const result = new Map<string, string>();
  const pattern = /"([\w.]+)"\s*=>/g;
  const found: Array<{ key: string; start: number }> = [];
  for (let m = pattern.exec(body); m !== null; m = pattern.exec(body)) {
    found.push({ key: m[1] as string, start: m.index });
  }
  found.forEach((arm, i) => {
    result.set(arm.key, body.slice(arm.start, found[i + 1]?.start ?? body.length));
  });
  return result;
}

export function parseKeys(source: string): string[] {
  const m = /pub const KEYS: \[&str; (\d+)\] = \[([\s\S]*?)\];/.exec(source);
  if (m === null) throw new Error('KEYS not found in config.rs');
  const keys = [...(m[2] as string).matchAll(/"([^"]+)"/g)].map((k) => k[1] as string);
  if (keys.length !== Number(m[1])) throw new Error('KEYS length does not match its declared size');
  return keys;
}

/** The settings names of an enum: the `NAMES` constant in its `impl` block. */
function enumNames(source: string, type: string): string[] {
  // rustfmt may break the line after `=`.
  const names = /pub const NAMES: \[&'static str; \d+\] =\s*\[([^\]]*)\]/.exec(
    block(source, mustFind(source, `impl ${type} {`)),
  );
  if (names === null) throw new Error(`no NAMES for ${type} in config.rs`);
  return [...(names[1] as string).matchAll(/"([^"]+)"/g)].map((n) => n[1] as string);
}

export function parseConfig(source: string): KeySpec[] {
  const keys = parseKeys(source);
  const constants = new Map<string, number>();
  for (const m of source.matchAll(/pub const (\w+): f32 = ([\d.]+);/g)) {
    constants.set(m[1] as string, Number(m[2]));
  }

  const applyArms = arms(block(source, mustFind(source, 'fn apply_key(')));
  const resetArms = arms(block(source, mustFind(source, 'fn reset_key(')));
  const defaults = new Map<string, string>();
  for (const m of block(source, mustFind(source, 'impl Default for Config')).matchAll(/(\w+): ([^,\n]+),/g)) {
    defaults.set(m[1] as string, (m[2] as string).trim());
  }

  return keys.map((key) => {
    const apply = applyArms.get(key);
    const reset = resetArms.get(key);
    if (apply === undefined || reset === undefined) throw new Error(`no apply/reset arm for ${key}`);
    const spec: KeySpec = { key, kind: 'string', default: undefined };
    let m: RegExpExecArray | null;
    if ((m = /integer_in\(value, ([\d_]+), ([\d_]+)\)/.exec(apply)) !== null) {
      spec.kind = 'integer';
      spec.min = num(m[1] as string);
      spec.max = num(m[2] as string);
    } else if ((m = /number_in\(value, ([\d.]+), ([\d.]+), (true|false)\)/.exec(apply)) !== null) {
      spec.kind = 'number';
      spec.min = num(m[1] as string);
      spec.max = num(m[2] as string);
      spec.exclusiveMin = m[3] === 'true';
    } else if (apply.includes('expect_bool')) {
      spec.kind = 'boolean';
    } else if ((m = /(\w+)::from_name/.exec(apply)) !== null) {
      spec.kind = 'enum';
      spec.enumValues = enumNames(source, m[1] as string);
    } else if (!apply.includes('expect_string')) {
      throw new Error(`cannot tell the type of ${key}`);
    }
    const field = /defaults\.(\w+)/.exec(reset)?.[1];
    const raw = field === undefined ? undefined : defaults.get(field);
    if (raw === undefined) throw new Error(`no default for ${key}`);
    spec.default = parseDefault(raw, constants);
    return spec;
  });
}

function parseDefault(raw: string, constants: Map<string, number>): unknown {
  if (raw === 'None') return null;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (/^[\d_.]+$/.test(raw)) return num(raw);
  // An enum variant: its settings name is its lowercased name (`Multiline::Auto` is "auto").
  const variant = /^\w+::(\w+)$/.exec(raw);
  if (variant) return (variant[1] as string).toLowerCase();
  const constant = constants.get(raw);
  if (constant !== undefined) return constant;
  throw new Error(`cannot read the default ${raw}`);
}
