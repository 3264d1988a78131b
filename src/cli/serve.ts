// `das serve`: the static site of `npm run web` (web/dist/: the DAS explorer and the bench page) on a
// local address. WebGPU needs a secure context, which http://127.0.0.1 and http://localhost are. GET and
// HEAD only, files under the directory only; runs until interrupted.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags, usage } from './args.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.json': 'application/json',
  '.map': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png', '.txt': 'text/plain; charset=utf-8', '.safetensors': 'application/octet-stream',
};

/** The site `npm run web` builds, at the package root (two levels above dist/cli/ and src/cli/). */
export const defaultSite = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/** A static file server for `dir` (index.html for folders; 404 outside it). */
export function staticServer(dir: string): Server {
  const root = resolve(dir);
  return createServer((req, res) => {
    const send = (status: number, body: string | Buffer, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'GET or HEAD only\n');
    let path: string;
    try { path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname); } catch { return send(400, 'bad path\n'); }
    let file = resolve(root, `.${normalize(`/${path}`)}`);
    if (file !== root && !file.startsWith(root + sep)) return send(404, 'not found\n');
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file) || !statSync(file).isFile()) return send(404, `not found: ${path}\n`);
    send(200, readFileSync(file), TYPES[extname(file)] ?? 'application/octet-stream');
  });
}

const flags = {
  dir: { kind: 'string' as const, help: 'the site to serve (built by npm run web)', default: defaultSite },
  port: { kind: 'int' as const, help: 'TCP port (0: any free one)', default: 8080, min: 0, max: 65535 },
  host: { kind: 'string' as const, help: 'address to listen on (WebGPU needs 127.0.0.1/localhost, or https elsewhere)', default: '127.0.0.1' },
  help: { kind: 'boolean' as const, help: 'show this help' },
};

export async function serveCommand(argv: string[]): Promise<number> {
  const p = parseFlags(argv, flags, 'serve');
  if (p.help) { process.stdout.write(usage('serve', 'serve the DAS explorer and the bench page (the site of npm run web) on a local address', flags)); return 0; }
  const dir = resolve(p.dir as string);
  if (!existsSync(join(dir, 'index.html'))) {
    process.stderr.write(`das serve: no site at ${dir} (no index.html): build it with \`npm run web\` in a checkout of das-webgpu, or pass --dir\n`);
    return 1;
  }
  const server = staticServer(dir);
  await new Promise<void>((ok, fail) => { server.once('error', fail); server.listen(p.port as number, p.host as string, ok); });
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : p.port;
  const host = (p.host as string).includes(':') ? `[${p.host as string}]` : (p.host as string);
  process.stdout.write(`das serve: ${dir}\n  http://${host}:${port}/             (home)\n  http://${host}:${port}/explorer.html  (DAS explorer)\n  http://${host}:${port}/bench.html     (bench)\nCtrl-C stops it.\n`);
  await new Promise<void>((done) => {
    const stop = () => { server.close(); done(); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
