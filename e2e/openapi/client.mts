// A typed client of the example shop, written against the types
// openapi-typescript generates from its OpenAPI document (api.d.ts, beside
// this file once generated): tsc checks every path, parameter, body and
// answer below against the document, and the test runs it against a live
// server. It prints what it saw as one JSON line.
import createClient from "openapi-fetch";
import type { paths } from "./api.js";

// Node's process, declared for the compiler (no @types/node needed).
declare const process: { argv: string[] };

const base = process.argv[2] ?? "";
const id = process.argv[3] ?? "";
const client = createClient<paths>({ baseUrl: base });

// A command: the answer's events and version are typed.
const opened = await client.POST("/cart/{id}/Open", {
  params: { path: { id } },
  body: { customer: "ada" },
});
const added = await client.POST("/cart/{id}/AddItem", {
  params: { path: { id } },
  body: { sku: "TEA-01", qty: 2, price: 4.5 },
});

// A rejection: the problem's kind and the guard's name are typed.
const rejected = await client.POST("/cart/{id}/ApplyCoupon", {
  params: { path: { id } },
  body: { code: "x" },
});

// A query with a typed parameter.
const query = await client.GET("/queries/open_carts", { params: { query: { limit: 5 } } });

// The instance, read back with its typed state.
const cart = await client.GET("/cart/{id}", { params: { path: { id } } });

console.log(
  JSON.stringify({
    opened: { status: opened.response.status, version: opened.data?.version, events: opened.data?.events.map((e) => e.type) },
    added: { status: added.response.status, version: added.data?.version, total: added.data?.state.total },
    rejected: { status: rejected.response.status, kind: rejected.error?.kind, violations: rejected.error?.violations?.map((v) => v.pointer) },
    query: { status: query.response.status, rows: query.data?.rows },
    cart: { status: cart.response.status, customer: cart.data?.state.customer, items: Object.keys(cart.data?.state.items ?? {}) },
  }),
);
