import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One post as the receiver got it: its headers and its raw body, the bytes a signature covers. */
export interface WebhookPost {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** When the receiver got it (ms since the epoch). */
  at: number;
}

/** How the receiver answers a post. */
export interface WebhookAnswer {
  status: number;
  headers?: Record<string, string>;
  /** How long it takes to answer; the post is recorded when it answers. */
  delayMs?: number;
}

export interface WebhookReceiver {
  /** Its URL, with a token in the path as chat tools have it. */
  url: string;
  posts: WebhookPost[];
  close(): Promise<void>;
}

/** A real HTTP receiver on a free port, answering each post as `answer` says (given the post and how many came before). */
export async function startWebhookReceiver(
  token: string,
  answer: (post: WebhookPost, index: number) => WebhookAnswer = () => ({ status: 200 }),
): Promise<WebhookReceiver> {
  const posts: WebhookPost[] = [];
  let received = 0;
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const post: WebhookPost = {
        path: `${request.method} ${request.url}`,
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      const { status, headers = {}, delayMs = 0 } = answer(post, received++);
      setTimeout(() => {
        posts.push(post);
        response.writeHead(status, headers).end();
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/${token}`,
    posts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A Standard Webhooks secret: `whsec_` and 32 bytes in base64 (made here from `seed`, so a test can repeat it). */
export function standardWebhooksSecret(seed: string): string {
  return `whsec_${createHmac('sha256', 'test-secrets').update(seed).digest('base64')}`;
}

/**
 * Whether `post` is signed with `secret`, checked as the Standard Webhooks spec tells a receiver to, with node:crypto
 * only: HMAC-SHA256, keyed by the secret's base64 after `whsec_`, over `<webhook-id>.<webhook-timestamp>.<raw body>`,
 * compared in constant time with each `v1,<base64>` of `webhook-signature`; a timestamp more than 5 minutes away is
 * refused.
 */
export function signedWith(secret: string, post: WebhookPost, now = Date.now()): boolean {
  const id = post.headers['webhook-id'];
  const timestamp = post.headers['webhook-timestamp'];
  const signatures = post.headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (Math.abs(now / 1000 - Number(timestamp)) > 5 * 60) return false;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${post.body}`).digest();
  return signatures.split(' ').some((signature) => {
    const [version, encoded] = signature.split(',');
    const given = Buffer.from(encoded ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}
