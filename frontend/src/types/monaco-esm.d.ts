// Monaco's ESM entry points ship without their own declarations; the types are the package's.
declare module 'monaco-editor/esm/vs/editor/edcore.main.js' {
  export * from 'monaco-editor';
}
declare module 'monaco-editor/esm/vs/basic-languages/*.js';
