/** A one-second tick for the machines that check time (time-outs, the choker, seeding limits). @module */

import { fromCallback } from "xstate";

/** Sends its parent `tick` once a second until stopped. */
export const ticker = fromCallback(({ sendBack }) => {
  const id = setInterval(() => sendBack({ type: "tick" }), 1000);
  return () => clearInterval(id);
});
