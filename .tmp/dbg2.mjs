import WebSocket from "ws";
import { startUpstream } from "../tests/runtime/upstream.mjs";
import { startWorker } from "../tests/runtime/front-doors.mjs";
import { fixtures, signEs256 } from "../tests/runtime/conformance-lib.mjs";
import { client } from "../tests/runtime/frames-lib.mjs";
const pub = (k) => Object.fromEntries(Object.entries(k).filter(([n]) => n !== "d"));
const up = await startUpstream();
const issuer = `${up.url}/auth/v1`;
const w = await startWorker({ AALGATE_CONFIG: JSON.stringify({ supabase_url: up.url, keys: { jwks: { keys: [pub(fixtures.keys.issuer)] } } }) });
const now = Math.floor(Date.now() / 1000);
const token = await signEs256({ alg: "ES256", typ: "JWT", kid: fixtures.keys.issuer.kid },
  { iss: issuer, sub: "6f1c1b8e-0000-4000-8000-000000000001", aud: "authenticated", exp: now + 3600, iat: now, role: "authenticated", aal: "aal2", mfa_enrolled: true, session_id: "s", amr: [{ method: "totp", timestamp: now }] }, fixtures.keys.issuer);
const sock = client(WebSocket, w.url.replace("http", "ws") + "/realtime/v1/websocket?apikey=" + fixtures.api_keys.publishable + "&vsn=2.0.0");
await sock.opened;
for (let i = 0; i < 3; i++) {
  const seen = sock.inbox.length;
  sock.ws.send(JSON.stringify([String(i), String(i), "realtime:b", "phx_join", { config: {}, access_token: token }]));
  await sock.until(() => sock.inbox.length > seen, "reply");
}
console.log(w.logs.filter((l) => l.includes("frame")).join("\n"));
sock.ws.close(); await w.close(); await up.close();
