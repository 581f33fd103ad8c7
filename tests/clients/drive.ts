// Drives the service through the generated TypeScript client (openapi-typescript types +
// openapi-fetch), as tests/test_generated_clients.py asks: `node drive.js join|all '<settings as JSON>'`.
// Prints one JSON report on stdout.
import createClient from "openapi-fetch";
import type { components, paths } from "./territoire.js";
import { readAll } from "./reads.js";

type Settings = {
  baseUrl: string;
  key: string;
  email: string;
  confirmation?: string;
  samples: Record<string, string>;
  values: Record<string, Record<string, string>>;
};

// No @types/node here: the one piece of Node.js used is typed by hand.
const { argv } = (globalThis as unknown as { process: { argv: string[] } }).process;
const step = argv[2];
const settings = JSON.parse(argv[3] ?? "{}") as Settings;

const client = createClient<paths>({ baseUrl: settings.baseUrl });
const editor = { Authorization: `Bearer ${settings.key}` };
const report: Record<string, unknown> = {};

function ok<T>(answer: { data?: T; error?: unknown; response: Response }, what: string): T {
  if (answer.data === undefined) {
    throw new Error(`${what}: ${answer.response.status} ${JSON.stringify(answer.error)}`);
  }
  return answer.data;
}

if (step === "join") {
  const joined = await client.POST("/v1/club/members", {
    body: { display_name: "Client TypeScript", email: settings.email, profile_type: "resident" },
  });
  report.join = joined.response.status;
} else {
  report.reads = await readAll(settings.baseUrl, settings.values);

  const codes: string[] = [];
  let cursor: string | undefined;
  do {
    const page = ok(
      await client.GET("/v1/actions", { params: { query: { limit: 9, cursor } } }),
      "list_actions",
    );
    codes.push(...page.items.map((action) => action.code));
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  report.actions = codes;

  const point: components["schemas"]["PointGeometry"] = {
    type: "Point",
    coordinates: [Number(settings.samples.lon), Number(settings.samples.lat)],
  };
  const receipt = ok(
    await client.POST("/v1/proposals", {
      body: {
        title: "Une boîte à livres",
        description: "Devant la médiathèque.",
        category: settings.samples.axes ?? "1",
        geometry: point,
        contact_email: "livres@example.org",
      },
    }),
    "submit_proposal",
  );
  const status = ok(
    await client.GET("/v1/proposals/status/{token}", {
      params: { path: { token: receipt.status_token } },
    }),
    "get_proposal_status",
  );
  report.proposal = status.status;

  const initiative = Number(settings.samples.initiative_id);
  const supports: number[] = [];
  for (let round = 0; round < 2; round++) {
    const counted = await client.POST("/v1/initiatives/{initiative_id}/supports", {
      params: { path: { initiative_id: initiative } },
      body: { supporter: "typescript-client@example.org" },
    });
    ok(counted, "support_initiative");
    supports.push(counted.response.status);
  }
  report.support = supports;

  const confirmation = ok(
    await client.GET("/v1/club/members/confirm/{token}", {
      params: { path: { token: settings.confirmation ?? "" } },
    }),
    "confirm",
  );
  const me = ok(
    await client.GET("/v1/club/members/me", {
      headers: { Authorization: `Bearer ${confirmation.token}` },
    }),
    "me",
  );
  report.me = me.email;

  const code = settings.samples.actions ?? "";
  const current = await client.GET("/v1/actions/{code}", { params: { path: { code } } });
  ok(current, "get_action");
  const etag = current.response.headers.get("ETag") ?? "";
  const statuses: number[] = [];
  for (const lead of ["Rédaction TypeScript", "Trop tard"]) {
    const patched = await client.PATCH("/v1/actions/{code}", {
      params: { path: { code }, header: { "If-Match": etag } },
      headers: { ...editor, "Content-Type": "application/merge-patch+json" },
      body: { lead },
    });
    statuses.push(patched.response.status);
  }
  report.patch = statuses;
}

console.log(JSON.stringify(report));
