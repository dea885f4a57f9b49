// A Supabase Edge Function protected by aalgate. SUPABASE_URL is set by the platform; the function
// sees its path as /reports/..., and pathPrefix routes it as /functions/v1/reports/... so the same
// route rules apply as in front of the whole project.
import { createGateFromEnv } from "aalgate";
import { createHandler } from "./handler.ts";

const gate = createGateFromEnv({ pathPrefix: "/functions/v1" });
Deno.serve(createHandler(gate));
