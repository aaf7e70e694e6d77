// PostGraphile 5 over Offerdesk's bench database, the comparator of bench/comparison.py.
// Environment: DATABASE_URL, SCRATCH_SCHEMA (the computed columns bench/comparison.py
// creates), PORT. One process, no auth (bench/README.md says why).
//
// Names are bent towards Offerdesk's so that most scenario documents are the same text:
// `offerEvent(id:)`, `offer(id:)`, an event's `dates`, an offer's `offerEvents` (a computed
// column ordered by first date), `paginatedOffers` (a function listing active, non-archived
// offers in creation order), `spotsAvailable` and `contentTitle` (computed columns).
import { createServer } from "node:http";
import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { jsonPgSmartTags } from "postgraphile/utils";

const scratch = process.env.SCRATCH_SCHEMA;
const port = Number(process.env.PORT);

// Smart tags given here rather than as COMMENTs, so the service's own tables are not touched.
const tags = jsonPgSmartTags({
  version: 1,
  config: {
    class: {
      "public.offer_events": {
        constraint: {
          // The relation's own `offerEvents` would be unordered; the computed column replaces it.
          fk_offer_events_offer_id_offers: { tags: { behavior: ["-list", "-connection"] } },
        },
      },
      "public.offer_event_dates": {
        constraint: {
          fk_offer_event_dates_offer_event_id_offer_events: {
            tags: { behavior: ["+list", "-connection"], foreignSimpleFieldName: "dates" },
          },
        },
      },
    },
    procedure: {
      [`${scratch}.offers_offer_events`]: { tags: { behavior: ["+list", "-connection"] } },
      [`${scratch}.paginated_offers`]: {
        // Without `name` a function outside the first schema is prefixed with its schema's.
        tags: { behavior: ["-list", "+connection"], listSuffix: "include", name: "paginated_offers" },
      },
    },
  },
});

// The Node interface's global id as `nodeId`, so a table's `id` column keeps its name (as
// postgraphile/presets/v4 does) instead of becoming `rowId`.
const nodeIdName = {
  name: "OfferdeskBenchNodeIdName",
  version: "0.0.0",
  after: ["PgAttributesPlugin"],
  inflection: {
    replace: {
      nodeIdFieldName: () => "nodeId",
      _attributeName(previous, _options, details) {
        const name = previous(details);
        return name === "row_id" && !details.skipRowId ? "id" : name;
      },
    },
  },
};

const preset = {
  extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset],
  plugins: [tags, nodeIdName],
  // Lists without a `List` suffix: `dates`, `offerEvents`.
  schema: { pgOmitListSuffix: true },
  pgServices: [
    makePgService({ connectionString: process.env.DATABASE_URL, schemas: ["public", scratch] }),
  ],
  grafserv: { port, host: "127.0.0.1", graphiql: false, watch: false },
};

const pgl = postgraphile(preset);
const server = createServer();
await pgl.createServ(grafserv).addTo(server);
server.listen(port, "127.0.0.1");
