import openapiTS, { astToString } from 'openapi-typescript';
import { describe, expect, it } from 'vitest';
import committed from '../src/generated/api.ts?raw';
import schemaText from '../src/generated/openapi.json?raw';

describe('the REST types', () => {
  it('are what openapi-typescript makes of the server’s schema (npm run generate:api after python -m quire.openapi_export)', async () => {
    const fresh = astToString(await openapiTS(JSON.parse(schemaText)));
    // The CLI adds its banner; the types themselves must match exactly.
    expect(committed.slice(committed.indexOf('export '))).toBe(fresh.slice(fresh.indexOf('export ')));
  }, 30_000);
});
