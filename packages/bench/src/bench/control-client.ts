// The sender's side of the control exchange (control-protocol.ts) with an `aiotx serve`.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import {
  encode,
  LineReader,
  parseServerMessage,
  PROTOCOL_VERSION,
  type ClientMessage,
  type Hello,
  type ServerMessage,
  type Stopped,
} from './control-protocol.js';

export class ControlClient {
  private readonly replies: ServerMessage[] = [];
  private readonly waiting: ((m: ServerMessage | Error) => void)[] = [];
  private failure: Error | null = null;

  private constructor(
    private readonly socket: Socket,
    readonly where: string,
  ) {
    const reader = new LineReader();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      try {
        for (const line of reader.push(chunk)) this.deliver(parseServerMessage(line));
      } catch (err) {
        this.fail(new Error(`${where}: ${(err as Error).message}`));
        socket.destroy();
      }
    });
    socket.on('error', (err) => this.fail(new Error(`${where}: ${err.message}`)));
    socket.on('close', () => this.fail(new Error(`${where}: the server closed the control connection`)));
  }

  static async connect(host: string, port: number): Promise<{ client: ControlClient; hello: Hello }> {
    const where = `aiotx serve at ${host}:${port}`;
    const socket = connect({ host, port });
    try {
      await once(socket, 'connect');
    } catch (err) {
      throw new Error(`cannot reach ${where}: ${(err as Error).message}`);
    }
    const client = new ControlClient(socket, where);
    const hello = await client.request({ op: 'hello', version: PROTOCOL_VERSION }, 'hello');
    return { client, hello };
  }

  private deliver(m: ServerMessage): void {
    const waiter = this.waiting.shift();
    if (waiter) waiter(m);
    else this.replies.push(m);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.splice(0)) w(this.failure);
  }

  private async request<Op extends ServerMessage['op']>(m: ClientMessage, want: Op): Promise<Extract<ServerMessage, { op: Op }>> {
    if (this.failure) throw this.failure;
    this.socket.write(encode(m));
    const reply = this.replies.shift() ?? (await new Promise<ServerMessage | Error>((resolve) => this.waiting.push(resolve)));
    if (reply instanceof Error) throw reply;
    if (reply.op === 'error') throw new Error(`${this.where}: ${reply.message}`);
    if (reply.op !== want) throw new Error(`${this.where}: answered '${reply.op}' to '${m.op}'`);
    return reply as Extract<ServerMessage, { op: Op }>;
  }

  /** The server notes its CPU time; call right before the streams start. */
  async start(): Promise<void> {
    await this.request({ op: 'start' }, 'started');
  }

  /** Waits until the server saw every stream end; its CPU time since start() and what it received. */
  stop(streams: string[]): Promise<Stopped> {
    return this.request({ op: 'stop', streams }, 'stopped');
  }

  close(): void {
    this.failure ??= new Error(`${this.where}: control connection closed`);
    this.socket.end();
  }
}
