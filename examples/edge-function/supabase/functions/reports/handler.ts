// The function's own logic, behind the gate. Kept apart from index.ts so tests can run it with a gate
// they configure.
import type { AalGate } from "aalgate";

export function createHandler(gate: AalGate) {
  return gate.protect((_req, { claims }) => {
    // Only allowed requests get here: a user with a verified MFA factor arrives at aal2.
    return Response.json({ report: "quarterly", for: claims?.sub ?? null, aal: claims?.aal ?? null });
  });
}
