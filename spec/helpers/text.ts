import { createWriteStream } from 'node:fs';

/** A deterministic text of about `bytes` bytes: words drawn (skewed) from a vocabulary, lines of 1 to 16 words. */
export async function writeText(path: string, bytes: number, seed = 42): Promise<void> {
  let state = seed >>> 0;
  const random = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const vocabulary = Array.from({ length: 20000 }, (_, i) => `w${i.toString(36)}${i % 7 === 0 ? ',' : ''}`);
  const out = createWriteStream(path);
  let written = 0;
  while (written < bytes) {
    const words = 1 + Math.floor(random() * 16);
    const line: string[] = [];
    for (let i = 0; i < words; i++) line.push(vocabulary[Math.floor(random() ** 3 * vocabulary.length)]!);
    const text = `${line.join(' ')}\n`;
    written += text.length;
    if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}
