import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/** The backend `npm start` runs; `npm run dev -w @agora/web` proxies the API to it. */
const BACKEND = process.env.AGORA_BACKEND_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The manifest lets scripts/size.ts sum exactly the JavaScript the storefront's first load needs.
    manifest: true,
    sourcemap: false,
    chunkSizeWarningLimit: 250,
  },
  server: {
    proxy: {
      '/api': { target: BACKEND, changeOrigin: false },
      '/health': { target: BACKEND, changeOrigin: false },
      '/metrics': { target: BACKEND, changeOrigin: false },
    },
  },
});
