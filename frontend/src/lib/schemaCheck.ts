/**
 * Checks a value against the server messages' JSON Schema (generated from the server's classes, see
 * src/generated/protocol.ts), so the page's validators cannot drift from what the server sends.
 *
 * Fields the schema does not know are let through: a newer server may add some, and the page reads only what it
 * knows. Values the schema names by `x-typescript` (nbformat outputs, typed by hand) are checked by `named`.
 */
import type { JsonSchema } from '../generated/protocol';

export type NamedChecks = Record<string, (value: unknown) => boolean>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function conforms(schema: JsonSchema, value: unknown, defs: Record<string, JsonSchema>, named: NamedChecks): boolean {
  const name = schema['x-typescript'];
  if (name !== undefined) {
    const check = named[name];
    if (!check) throw new Error(`no check for ${name}`);
    return check(value);
  }
  if (schema.$ref !== undefined) {
    const target = defs[schema.$ref.slice(schema.$ref.lastIndexOf('/') + 1)];
    if (!target) throw new Error(`no schema ${schema.$ref}`);
    return conforms(target, value, defs, named);
  }
  if (schema.anyOf) return schema.anyOf.some((option) => conforms(option, value, defs, named));
  if (schema.enum) return schema.enum.includes(value);
  switch (schema.type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'null':
      return value === null;
    case 'array': {
      const items = schema.items;
      return Array.isArray(value) && (!items || value.every((item) => conforms(items, item, defs, named)));
    }
    case 'object':
      return isObject(value) && objectConforms(schema, value, defs, named);
    default:
      return true; // any value
  }
}

function objectConforms(
  schema: JsonSchema,
  value: Record<string, unknown>,
  defs: Record<string, JsonSchema>,
  named: NamedChecks,
): boolean {
  if (!(schema.required ?? []).every((key) => value[key] !== undefined)) return false;
  const properties = schema.properties ?? {};
  for (const [key, field] of Object.entries(value)) {
    if (field === undefined) continue; // left out
    const known = properties[key];
    if (known) {
      if (!conforms(known, field, defs, named)) return false;
    } else if (isObject(schema.additionalProperties) && !conforms(schema.additionalProperties, field, defs, named)) {
      return false;
    }
  }
  return true;
}
