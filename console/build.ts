// Builds the console (console/src) into one script and one stylesheet in
// console/dist, which is committed: `bun run start` and the compiled binary serve
// it with no build step. `bun run console:build` after changing console/src;
// test/console/bundle.test.ts fails when the committed bundle is stale.

import { gzipSync } from 'node:zlib'
import { join } from 'node:path'

export async function buildConsole(outdir: string): Promise<{ js: string; css: string }> {
  const result = await Bun.build({
    entrypoints: [join(import.meta.dir, 'src/main.ts')],
    outdir, target: 'browser', format: 'esm', minify: true, sourcemap: 'none', naming: 'app.[ext]',
  })
  if (!result.success) throw new AggregateError(result.logs, 'console build failed')
  return { js: join(outdir, 'app.js'), css: join(outdir, 'app.css') }
}

if (import.meta.main) {
  const out = await buildConsole(join(import.meta.dir, 'dist'))
  for (const path of [out.js, out.css]) {
    const bytes = await Bun.file(path).bytes()
    console.log(`${path.replace(process.cwd() + '/', '')}: ${bytes.length} B, ${gzipSync(bytes, { level: 9 }).length} B gzipped`)
  }
}
