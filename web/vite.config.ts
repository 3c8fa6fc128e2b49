import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` serves the app with hot reload and forwards the console API to a running
// `basalt serve` (BASALT_URL, default http://127.0.0.1:8080). Sign in through the dev server
// so the session cookie is set for its origin. The Host header is kept (changeOrigin: false)
// so the CSRF origin check (Origin must equal Host) passes through the proxy.
const target = process.env.BASALT_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/console/api': { target, changeOrigin: false },
    },
  },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2022',
  },
});
