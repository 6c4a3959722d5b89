import { expect } from 'chai';
import { Mailbox } from '../../../lib/actor/index.ts';

describe('mailbox', () => {
  it('processes items in order and one at a time', async () => {
    const seen: number[] = [];
    let active = 0;
    let maxActive = 0;
    const box = new Mailbox<number>(async (n) => {
      active++;
      maxActive = Math.max(maxActive, active);
      await Promise.resolve();
      seen.push(n);
      active--;
    });
    for (let i = 0; i < 3000; i++) box.enqueue(i);
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).to.have.length(3000);
    expect(seen.every((n, i) => n === i)).to.equal(true);
    expect(maxActive).to.equal(1);
  });

  it('drops what is queued once closed', async () => {
    const seen: number[] = [];
    const box = new Mailbox<number>(async (n) => { seen.push(n); await new Promise((r) => setTimeout(r, 5)); });
    box.enqueue(1);
    box.enqueue(2);
    box.close();
    box.enqueue(3);
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).to.deep.equal([1]);
  });
});
