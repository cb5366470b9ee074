// A TCP proxy that sits between a test client and a real server (Postgres) and
// injects network faults on demand: latency, a blackhole, abrupt resets and refused
// connections. It exists because no toxiproxy is available; it owns nothing but the
// sockets it accepted and opened.
//
// Semantics callers rely on:
// - latency is added per chunk, per direction, and never reorders bytes;
// - a blackhole *holds* bytes (it stops reading, so the peers see a stalled TCP
//   window like a real partition) and releases them in order when lifted; a
//   connection accepted during a blackhole reaches the target only when it is lifted;
// - refusal closes the listening socket, so a client gets a real ECONNREFUSED, and
//   re-opens it on the same port; existing connections are untouched;
// - resetAll sends RST (SO_LINGER 0) on both sides of every connection.
import type { Socket, TCPSocketListener } from 'bun'

// Bytes one direction of one connection may hold (latency queue plus unsent
// remainder) before the proxy stops reading from the sender. 4 MiB covers a large
// result set in flight at a few hundred ms of latency; the cost is memory per link.
const PIPE_BYTES_MAX = 4 * 1024 * 1024

export type FaultProxyOptions = {
  target: { host: string; port: number }
  // Where to listen. Tests should keep 127.0.0.1; port 0 picks a free port.
  listen?: { host: string; port: number }
}

export type FaultProxy = {
  readonly host: string
  readonly port: number
  // Client connections currently open.
  readonly connections: number
  setLatency(latency_ms: number): void
  blackhole(on: boolean): void
  refuse(on: boolean): void
  resetAll(): void
  stop(): Promise<void>
}

type Faults = { latency_ms: number; blackholed: boolean }
type Chunk = { bytes: Uint8Array; due_ms: number }
type Side = Socket<Link | null>

// One direction of one connection: a FIFO of chunks, each released at its due time.
// Due times never decrease, so releasing in FIFO order keeps the byte order.
class Pipe {
  source: Side | null = null
  sink: Side | null = null
  // The source closed: end the sink once everything queued has been written.
  source_ended = false
  private chunks: Chunk[] = []
  private bytes_queued = 0
  private due_ms_last = 0
  private timer: ReturnType<typeof setTimeout> | null = null
  private paused = false

  constructor(private readonly faults: Faults) {}

  push(data: Uint8Array): void {
    const due_ms = Math.max(performance.now() + this.faults.latency_ms, this.due_ms_last)
    this.due_ms_last = due_ms
    // Copy: the runtime may reuse the buffer it handed to the data callback.
    this.chunks.push({ bytes: data.slice(), due_ms })
    this.bytes_queued += data.byteLength
    this.flush()
  }

  // Write every due chunk the sink accepts; called on push, drain, timer and
  // whenever a fault is lifted.
  flush(): void {
    if (!this.faults.blackholed && this.sink !== null) this.writeDue(this.sink)
    this.updateFlow()
  }

  private writeDue(sink: Side): void {
    const now_ms = performance.now()
    while (this.chunks.length > 0) {
      const head = this.chunks[0]!
      if (head.due_ms > now_ms) {
        this.timer ??= setTimeout(() => {
          this.timer = null
          this.flush()
        }, Math.ceil(head.due_ms - now_ms))
        return
      }
      const written = sink.write(head.bytes)
      if (written < 0) return // sink closed; its close handler tears the link down
      this.bytes_queued -= written
      if (written < head.bytes.byteLength) {
        head.bytes = head.bytes.subarray(written) // the rest goes out on drain
        return
      }
      this.chunks.shift()
    }
    if (this.source_ended) sink.end()
  }

  // Stop reading while blackholed or over the limit, so memory stays bounded and
  // the sender feels backpressure instead of the proxy buffering without end.
  private updateFlow(): void {
    const want_paused = this.faults.blackholed || this.bytes_queued >= PIPE_BYTES_MAX
    if (this.source === null || want_paused === this.paused) return
    this.paused = want_paused
    if (want_paused) this.source.pause()
    else this.source.resume()
  }

  discard(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.chunks = []
    this.bytes_queued = 0
  }
}

class Link {
  upstream: Side | null = null
  client_open = true
  upstream_open = false
  readonly up: Pipe // client -> target
  readonly down: Pipe // target -> client

  constructor(readonly client: Side, faults: Faults) {
    this.up = new Pipe(faults)
    this.down = new Pipe(faults)
    this.up.source = client
    this.down.sink = client
  }

  terminate(): void {
    this.up.discard()
    this.down.discard()
    this.client.terminate()
    this.upstream?.terminate()
  }
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const { target } = options
  const listen_at = options.listen ?? { host: '127.0.0.1', port: 0 }
  const faults: Faults = { latency_ms: 0, blackholed: false }
  // Every link with a side still open; a closing client can leave its upstream
  // open for a while (bytes held by latency or a blackhole), and resetAll must reach it.
  const links = new Set<Link>()
  // Accepted during a blackhole; they connect to the target when it is lifted.
  const waiting = new Set<Link>()
  let stopped = false

  const connectUpstream = async (link: Link): Promise<void> => {
    try {
      const upstream = await Bun.connect<Link | null>({
        hostname: target.host,
        port: target.port,
        data: link,
        socket: upstreamHandlers,
      })
      if (!link.client_open || stopped) return upstream.terminate()
      link.upstream = upstream
      link.upstream_open = true
      link.up.sink = upstream
      link.down.source = upstream
      link.up.flush()
      link.down.flush()
    } catch {
      link.terminate() // the target is down: the client sees its connection drop
    }
  }

  const clientHandlers = {
    open(client: Side) {
      const link = new Link(client, faults)
      client.data = link
      links.add(link)
      if (faults.blackholed) {
        waiting.add(link)
        link.up.flush() // pauses reading from the client
      } else void connectUpstream(link)
    },
    data: (client: Side, data: Uint8Array) => client.data?.up.push(data),
    drain: (client: Side) => client.data?.down.flush(),
    close({ data: link }: Side) {
      if (!link) return
      link.client_open = false
      waiting.delete(link)
      link.down.discard()
      link.up.source_ended = true
      link.up.flush()
      if (!link.upstream_open) {
        link.up.discard()
        links.delete(link)
      }
    },
    error: (client: Side) => client.data?.terminate(),
  }

  const upstreamHandlers = {
    data: (upstream: Side, data: Uint8Array) => upstream.data?.down.push(data),
    drain: (upstream: Side) => upstream.data?.up.flush(),
    close({ data: link }: Side) {
      if (!link) return
      link.upstream_open = false
      link.up.discard()
      link.down.source_ended = true
      link.down.flush()
      if (!link.client_open) links.delete(link)
    },
    error: (upstream: Side) => upstream.data?.terminate(),
  }

  const resetAll = (): void => {
    for (const link of links) link.terminate()
    links.clear()
    waiting.clear()
  }

  const listen = (port: number): TCPSocketListener<Link | null> =>
    Bun.listen<Link | null>({ hostname: listen_at.host, port, data: null, socket: clientHandlers })

  let listener: TCPSocketListener<Link | null> | null = listen(listen_at.port)
  const port = listener.port

  return {
    host: listen_at.host,
    port,
    get connections() {
      let open = 0
      for (const link of links) if (link.client_open) open += 1
      return open
    },
    setLatency(latency_ms: number) {
      if (!(latency_ms >= 0)) throw new Error(`latency_ms must be >= 0, got ${latency_ms}`)
      faults.latency_ms = latency_ms
    },
    blackhole(on: boolean) {
      faults.blackholed = on
      for (const link of links) {
        link.up.flush()
        link.down.flush()
      }
      if (on) return
      for (const link of waiting) void connectUpstream(link)
      waiting.clear()
    },
    refuse(on: boolean) {
      if (stopped) return
      if (on && listener !== null) {
        listener.stop(false) // false: keep the connections already accepted
        listener = null
      } else if (!on && listener === null) {
        listener = listen(port)
      }
    },
    resetAll,
    async stop() {
      stopped = true
      listener?.stop(true)
      listener = null
      resetAll()
    },
  }
}
