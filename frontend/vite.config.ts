/// <reference types="vitest/config" />
// Builds the app into dist/ under fixed file names, which Django's templates include
// as /static/assets/app.js and /static/assets/app.css (no manifest lookup needed).
import { defineConfig } from 'vite';

export default defineConfig({
  // Django serves dist/ at /static/, so any URL the bundle emits must start there.
  base: '/static/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    cssCodeSplit: false,
    // `rolldownOptions` is Vite 8's name for the deprecated `rollupOptions`; same shape.
    rolldownOptions: {
      input: 'src/main.ts',
      output: {
        entryFileNames: 'assets/app.js',
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames: (asset) =>
          asset.names.some((name) => name.endsWith('.css'))
            ? 'assets/app.css'
            : 'assets/[name]-[hash][extname]',
      },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.ts'],
    restoreMocks: true,
  },
});
