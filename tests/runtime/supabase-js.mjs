// supabase-js (realtime-js) as a user's app runs it, through a front door that relays Realtime: an
// enrolled user's aal1 token is refused with a readable CHANNEL_ERROR and never reaches the stand-in
// Realtime, an aal2 token subscribes. Shared by the Node (workerd) and Deno runners.
import { createClient } from "@supabase/supabase-js";
import { fixtures } from "./conformance-lib.mjs";

/**
 * Subscribes one channel with `token` as the user's access token and resolves to
 * { status, message } of the first SUBSCRIBED / CHANNEL_ERROR / TIMED_OUT.
 */
export async function subscribe(baseUrl, token, { vsn, transport } = {}) {
  const supabase = createClient(baseUrl, fixtures.api_keys.publishable, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { ...(transport ? { transport } : {}), ...(vsn ? { vsn } : {}), timeout: 10000 },
  });
  // What supabase-js does on SIGNED_IN / TOKEN_REFRESHED: the user's token for every channel's join.
  await supabase.realtime.setAuth(token);
  try {
    return await new Promise((resolve) => {
      supabase.channel("room-1").subscribe((status, err) => {
        if (status === "SUBSCRIBED" || status === "CHANNEL_ERROR" || status === "TIMED_OUT") resolve({ status, message: err?.message ?? null });
      });
    });
  } finally {
    await supabase.removeAllChannels();
    supabase.realtime.disconnect();
  }
}

/** Runs the supabase-js checks; returns mismatch descriptions. `realtime`: the stand-in's record. */
export async function supabaseJsChecks(baseUrl, tokens, realtime, transport) {
  const problems = [];
  for (const vsn of ["2.0.0", "1.0.0"]) {
    const before = realtime.frames.length;
    const refused = await subscribe(baseUrl, tokens.aal1_enrolled, { vsn, transport });
    if (refused.status !== "CHANNEL_ERROR" || !refused.message?.includes("aal2_required")) {
      problems.push(`vsn ${vsn}: aal1 enrolled: expected CHANNEL_ERROR with aal2_required, got ${JSON.stringify(refused)}`);
    }
    if (realtime.frames.slice(before).some((f) => String(f).includes(tokens.aal1_enrolled))) {
      problems.push(`vsn ${vsn}: the aal1 token reached the Realtime upstream`);
    }
    for (const name of ["aal2_enrolled", "aal1_not_enrolled"]) {
      const ok = await subscribe(baseUrl, tokens[name], { vsn, transport });
      if (ok.status !== "SUBSCRIBED") problems.push(`vsn ${vsn}: ${name}: expected SUBSCRIBED, got ${JSON.stringify(ok)}`);
    }
  }
  return problems;
}
