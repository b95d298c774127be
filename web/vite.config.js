// Vite build of roost's web client into web/dist, which roost serves (with an index.html
// fallback for client-side routes). `npm run dev` proxies the API to a local roost.
// Two entries: index.html (the app) and graphiql.html (GraphiQL, which roost serves for
// GET /graphql from a browser); each gets its own chunks, so the app never loads the editor.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const backend = process.env.ROOST_URL || 'http://127.0.0.1:3000';

export default defineConfig({
    plugins: [react()],
    build: {
        outDir: 'dist',
        emptyOutDir: true,
        target: 'es2020',
        sourcemap: false,
        assetsInlineLimit: 0,
        rollupOptions: {
            input: {
                main: fileURLToPath(new URL('index.html', import.meta.url)),
                graphiql: fileURLToPath(new URL('graphiql.html', import.meta.url)),
            },
        },
    },
    server: {
        host: '127.0.0.1',
        proxy: {
            '/graphql': backend,
            '/socket.io': { target: backend, ws: true },
        },
    },
});
