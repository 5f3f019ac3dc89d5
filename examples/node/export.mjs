// The dtcost component in Node.js (jco + preview2-shim). First the typed transforms, called as
// plain functions; then, when DTCOST_ACCOUNT_UUID is set, the whole export through wasi:cli/run
// (wasi-http from the shim; configuration from DTCOST_* variables, see config.js).
//   npm run transpile && node export.mjs
import { transform, run } from "./out/dtcost_guest.js";

const context = { provider: "dps4ma.ingester", accountUuid: "7c0d4f5e-2b1a-4e8f-9a3d-1f2e3d4c5b6a", accountName: "ACME" };
const costs = [
  { startTime: "2026-03-25T00:00:00Z", endTime: "2026-03-26T00:00:00Z", value: 698.1, currencyCode: "USD", lastBookingDate: "2026-03-26" },
  { startTime: "2026-03-24T00:00:00Z", endTime: "2026-03-25T00:00:00Z", value: 712.4, currencyCode: "USD", lastBookingDate: undefined },
];
const events = transform
  .costBooked(context, "a3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d", costs)
  .trimEnd()
  .split("\n")
  .map((line) => JSON.parse(line));
console.error(`transform: ${events.length} events, cost to date ${events.at(-1).costToDate} USD`);
try {
  transform.costBooked(context, "s", [{ ...costs[0], startTime: "yesterday" }]);
} catch (error) {
  console.error(`transform: refused as expected: ${error.payload.field}: ${error.payload.message}`);
}

if (process.env.DTCOST_ACCOUNT_UUID || process.env.DTCOST_CLUSTER_URL) {
  run.run();
}
