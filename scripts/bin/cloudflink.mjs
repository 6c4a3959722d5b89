#!/usr/bin/env node
// The `cloudflink` command. Sources are TypeScript, run through tsx, so job files can be too.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../../lib/cli/main.ts');
await main(process.argv);
