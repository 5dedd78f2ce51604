#!/usr/bin/env node
// Runs the built CLI (npm run build); from a source checkout use `npx tsx src/cli/main.ts`.
import("../dist/cli/main.js").catch((error) => {
  if (error?.code === "ERR_MODULE_NOT_FOUND") {
    console.error("keyferry: not built yet: run `npm run build` (or use `npx tsx src/cli/main.ts`)");
    process.exit(2);
  }
  throw error;
});
