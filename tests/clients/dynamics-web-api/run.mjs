// Compatibility test: drives the real `dynamics-web-api` (v2) npm client against a
// Dataverse-compatible server.
//
//   EVENTUAL_URL=http://127.0.0.1:8765 node run.mjs
//
// Optional env:
//   DWA_EXTENDED=0   skip the extended steps (updateSingleProperty, delete single property,
//                    composite/extra checks, associate/disassociate $ref, $batch)
//   DWA_BATCH=0      skip the two $batch steps
//   DWA_VERBOSE=1    print the returned payloads
//
// Exit code: 0 all PASS, 1 any FAIL, 2 server unreachable / setup error.
import { DynamicsWebApi } from "dynamics-web-api";

const BASE = process.env.EVENTUAL_URL;
if (!BASE) {
  console.error("EVENTUAL_URL is not set (e.g. EVENTUAL_URL=http://127.0.0.1:8765)");
  process.exit(2);
}
const EXTENDED = process.env.DWA_EXTENDED !== "0";
const VERBOSE = process.env.DWA_VERBOSE === "1";
const BATCH = process.env.DWA_BATCH !== "0";

// serverUrl must end with "/" – the library resolves "api/data/v9.2" relative to it with new URL().
const serverUrl = BASE.endsWith("/") ? BASE : BASE + "/";
const common = {
  serverUrl,
  dataApi: { version: "9.2" },
  onTokenRefresh: async () => "dummy", // -> "Authorization: Bearer dummy"
  timeout: 30000,
};
const api = new DynamicsWebApi(common);
// Same, but update/upsert/deleteRecord do not swallow 412/404 (see report).
const apiStrict = new DynamicsWebApi({ ...common, propagateErrors: true });

// ---------------------------------------------------------------------------
const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RUN = Date.now().toString(36) + Math.random().toString(36).slice(2, 6);
const results = [];
const cleanup = []; // [collection, id]
let unreachable = false;

class AssertionFailed extends Error {}
function assert(cond, msg, details) {
  if (!cond) {
    const e = new AssertionFailed(msg + (details !== undefined ? ` | details: ${fmt(details)}` : ""));
    throw e;
  }
}
function eq(actual, expected, what) {
  assert(actual === expected, `${what}: expected ${fmt(expected)}, got ${fmt(actual)}`);
}
function fmt(v) {
  try {
    const s = JSON.stringify(v);
    return s && s.length > 600 ? s.slice(0, 600) + "…" : s;
  } catch {
    return String(v);
  }
}
function describeError(e) {
  if (!e) return String(e);
  if (Array.isArray(e)) return `[batch errors] ${e.map(describeError).join(" ; ")}`;
  const parts = [];
  if (e.status !== undefined) parts.push(`status=${e.status}`);
  if (e.code !== undefined) parts.push(`code=${e.code}`);
  if (e.message) parts.push(`message=${e.message}`);
  if (!parts.length) parts.push(String(e));
  return parts.join(" ");
}
const guidOf = (v) => (typeof v === "string" ? v.toLowerCase() : v);

async function step(name, fn, { group = "core" } = {}) {
  if (unreachable) {
    results.push({ name, ok: false, skipped: true });
    console.log(`SKIP  [${group}] ${name} (server unreachable)`);
    return undefined;
  }
  const t0 = Date.now();
  try {
    const out = await fn();
    results.push({ name, ok: true });
    console.log(`PASS  [${group}] ${name} (${Date.now() - t0} ms)`);
    if (VERBOSE && out !== undefined) console.log("      ->", fmt(out));
    return out;
  } catch (e) {
    results.push({ name, ok: false });
    const kind = e instanceof AssertionFailed ? "assertion" : "error";
    console.log(`FAIL  [${group}] ${name}: ${kind}: ${describeError(e)}`);
    if (e && (e.code === "ECONNREFUSED" || e.code === "ENOTFOUND" || e.code === "ECONNRESET" || e.code === "EHOSTUNREACH")) {
      unreachable = true;
      console.log(`      server at ${BASE} is not reachable (${e.code}); remaining steps are skipped`);
    }
    return undefined;
  }
}
// Expect the promise to reject; returns the error.
async function expectReject(promise, what) {
  try {
    const v = await promise;
    throw new AssertionFailed(`${what}: expected an error, but call resolved with ${fmt(v)}`);
  } catch (e) {
    if (e instanceof AssertionFailed) throw e;
    return e;
  }
}

// ---------------------------------------------------------------------------
console.log(`dynamics-web-api compatibility run ${RUN} against ${serverUrl}api/data/v9.2/`);

const acc1Number = `ACC-${RUN}-1`;
const acc2Number = `ACC-${RUN}-2`;
const orderNumber = `ORD-${RUN}-1`;

// 1. create without return representation -> id parsed from OData-EntityId header
const acc1Id = await step("create account (no returnRepresentation) returns GUID from OData-EntityId", async () => {
  const id = await api.create({
    collection: "accounts",
    data: { name: `DWA ${RUN} one`, accountnumber: acc1Number, telephone1: "555-0100", revenue: 12345.67, numberofemployees: 42 },
  });
  assert(typeof id === "string" && GUID_RE.test(id), "create should resolve to the new record GUID (taken from OData-EntityId)", id);
  cleanup.push(["accounts", id]);
  return id;
});

// 2. create with return representation
const acc2 = await step("create account (returnRepresentation + select) returns 201 body", async () => {
  const rec = await api.create({
    collection: "accounts",
    data: { name: `DWA ${RUN} two`, accountnumber: acc2Number, emailaddress1: "two@example.com" },
    returnRepresentation: true,
    select: ["accountid", "name", "accountnumber", "emailaddress1"],
  });
  assert(rec && typeof rec === "object", "expected an object (Prefer: return=representation => 201 + JSON body)", rec);
  assert(GUID_RE.test(rec.accountid || ""), "accountid must be a GUID", rec);
  eq(rec.name, `DWA ${RUN} two`, "name");
  eq(rec.accountnumber, acc2Number, "accountnumber");
  eq(rec.emailaddress1, "two@example.com", "emailaddress1");
  assert(typeof rec["@odata.etag"] === "string", "@odata.etag should be present in the representation", rec);
  cleanup.push(["accounts", rec.accountid]);
  return rec;
});
const acc2Id = acc2?.accountid;

// 3. retrieve by id
await step("retrieve account by id (select)", async () => {
  assert(acc1Id, "needs step 1");
  const rec = await api.retrieve({ collection: "accounts", key: acc1Id, select: ["name", "accountnumber", "telephone1", "revenue", "numberofemployees"] });
  eq(guidOf(rec.accountid), guidOf(acc1Id), "accountid (primary key is always returned)");
  eq(rec.name, `DWA ${RUN} one`, "name");
  eq(rec.accountnumber, acc1Number, "accountnumber");
  eq(rec.telephone1, "555-0100", "telephone1");
  eq(Number(rec.revenue), 12345.67, "revenue (money)");
  eq(rec.numberofemployees, 42, "numberofemployees");
  assert(typeof rec["@odata.etag"] === "string" && rec["@odata.etag"].startsWith('W/"'), '@odata.etag should be a weak etag W/"…"', rec["@odata.etag"]);
  assert(!("emailaddress1" in rec), "emailaddress1 was not selected and should be absent", rec);
  return rec;
});

// 4. retrieve by alternate key
await step("retrieve account by alternate key accounts(accountnumber='…')", async () => {
  assert(acc1Id, "needs step 1");
  const rec = await api.retrieve({ collection: "accounts", key: `accountnumber='${acc1Number}'`, select: ["name"] });
  eq(guidOf(rec.accountid), guidOf(acc1Id), "accountid");
  eq(rec.name, `DWA ${RUN} one`, "name");
  return rec;
});

// 5. update
await step("update account (PATCH, If-Match: *) resolves true and persists", async () => {
  assert(acc1Id, "needs step 1");
  const r = await api.update({ collection: "accounts", key: acc1Id, data: { name: `DWA ${RUN} one (upd)`, telephone1: "555-0199" } });
  eq(r, true, "update() result for an empty 204 response");
  const rec = await api.retrieve({ collection: "accounts", key: acc1Id, select: ["name", "telephone1"] });
  eq(rec.name, `DWA ${RUN} one (upd)`, "name after update");
  eq(rec.telephone1, "555-0199", "telephone1 after update");
});

await step("update account with returnRepresentation returns the updated record", async () => {
  assert(acc1Id, "needs step 1");
  const rec = await api.update({ collection: "accounts", key: acc1Id, data: { numberofemployees: 43 }, returnRepresentation: true, select: ["numberofemployees", "name"] });
  assert(rec && typeof rec === "object", "expected an object (Prefer: return=representation => 200 + JSON)", rec);
  eq(rec.numberofemployees, 43, "numberofemployees");
  eq(guidOf(rec.accountid), guidOf(acc1Id), "accountid");
});

await step("update of a non-existent record rejects with 404", async () => {
  const e = await expectReject(api.update({ collection: "accounts", key: "00000000-0000-0000-0000-0000000000ab", data: { name: "nope" } }), "update missing");
  eq(e.status, 404, "error.status (If-Match: * must prevent create)");
  assert(typeof e.message === "string" && e.message.length > 0, "error.message should come from body error.message", e);
});

// 6. upsert by alternate key, twice
const orderId = await step("upsert new_order by alternate key (creates)", async () => {
  assert(acc1Id, "needs step 1");
  const id = await api.upsert({
    collection: "new_orders",
    key: `new_ordernumber='${orderNumber}'`,
    data: { new_name: `Order ${RUN}`, new_amount: 100.5, "new_customer@odata.bind": `accounts(${acc1Id})` },
  });
  // Dataverse answers an upsert with OData-EntityId echoing the URL in the key form used,
  // here …/new_orders(new_ordernumber='…') (UPSERT; /work/shared/docs/dataverse-webapi.md §3).
  // The library only extracts a GUID ending that URL, so upsert() resolves undefined.
  eq(id, undefined, "upsert() result (OData-EntityId in the alternate key form, as Dataverse answers)");
  const rec = await api.retrieve({ collection: "new_orders", key: `new_ordernumber='${orderNumber}'`, select: ["new_name", "new_amount", "new_ordernumber", "_new_customer_value"] });
  assert(GUID_RE.test(rec.new_orderid || ""), "new_orderid (primary key is always returned) must be a GUID", rec);
  eq(rec.new_name, `Order ${RUN}`, "new_name");
  eq(Number(rec.new_amount), 100.5, "new_amount");
  eq(rec.new_ordernumber, orderNumber, "new_ordernumber (alternate key value must be stored on create)");
  eq(guidOf(rec._new_customer_value), guidOf(acc1Id), "_new_customer_value");
  cleanup.push(["new_orders", rec.new_orderid]);
  return rec.new_orderid;
});

await step("upsert new_order by alternate key again (updates same row)", async () => {
  assert(orderId, "needs previous step");
  const id = await api.upsert({ collection: "new_orders", key: `new_ordernumber='${orderNumber}'`, data: { new_amount: 250 } });
  assert(id === undefined || guidOf(id) === guidOf(orderId), "second upsert should report the same id", id);
  const rec = await api.retrieve({ collection: "new_orders", key: `new_ordernumber='${orderNumber}'`, select: ["new_name", "new_amount"] });
  eq(guidOf(rec.new_orderid), guidOf(orderId), "new_orderid unchanged");
  eq(Number(rec.new_amount), 250, "new_amount updated");
  eq(rec.new_name, `Order ${RUN}`, "new_name kept");
  const n = await api.count({ collection: "new_orders", filter: `new_ordernumber eq '${orderNumber}'` });
  eq(n, 1, "number of rows with that ordernumber");
});

// 7. upsert with If-None-Match: * on existing row -> 412
await step("upsert ifnonematch '*' on existing row -> 412 error (propagateErrors: true)", async () => {
  assert(orderId, "needs upsert step");
  const e = await expectReject(
    apiStrict.upsert({ collection: "new_orders", key: `new_ordernumber='${orderNumber}'`, data: { new_amount: 999 }, ifnonematch: "*" }),
    "upsert with If-None-Match: *"
  );
  eq(e.status, 412, "error.status");
  assert(typeof e.message === "string" && e.message.length > 0, "error.message should be populated from body error.message", e);
  assert(e.code !== undefined, "error.code should be populated from body error.code", e);
  const rec = await api.retrieve({ collection: "new_orders", key: orderId, select: ["new_amount"] });
  eq(Number(rec.new_amount), 250, "record must not be modified");
  return { status: e.status, code: e.code, message: e.message };
});

await step("upsert ifnonematch '*' on existing row, default config -> library swallows 412 and returns null", async () => {
  assert(orderId, "needs upsert step");
  const r = await api.upsert({ collection: "new_orders", key: `new_ordernumber='${orderNumber}'`, data: { new_amount: 998 }, ifnonematch: "*" });
  eq(r, null, "upsert() result when server answers 412");
});

// 8/9. bind lookups
const contact1Id = await step("create contact binding parentcustomerid_account@odata.bind by id", async () => {
  assert(acc1Id, "needs step 1");
  const id = await api.create({
    collection: "contacts",
    data: { firstname: "Ada", lastname: `Lovelace${RUN}`, emailaddress1: "ada@example.com", "parentcustomerid_account@odata.bind": `accounts(${acc1Id})` },
  });
  assert(GUID_RE.test(id || ""), "contact id", id);
  cleanup.unshift(["contacts", id]);
  const rec = await api.retrieve({ collection: "contacts", key: id, select: ["firstname", "lastname", "_parentcustomerid_value"] });
  eq(guidOf(rec._parentcustomerid_value), guidOf(acc1Id), "_parentcustomerid_value");
  return id;
});

const contact2Id = await step("create contact binding parentcustomerid_account@odata.bind by alternate key", async () => {
  assert(acc2Id, "needs step 2");
  const id = await api.create({
    collection: "contacts",
    data: { firstname: "Grace", lastname: `Hopper${RUN}`, "parentcustomerid_account@odata.bind": `accounts(accountnumber='${acc2Number}')` },
  });
  assert(GUID_RE.test(id || ""), "contact id", id);
  cleanup.unshift(["contacts", id]);
  const rec = await api.retrieve({ collection: "contacts", key: id, select: ["_parentcustomerid_value"] });
  eq(guidOf(rec._parentcustomerid_value), guidOf(acc2Id), "_parentcustomerid_value");
  return id;
});

await step("update account primarycontactid@odata.bind (for $expand)", async () => {
  assert(acc1Id && contact1Id, "needs earlier steps");
  eq(await api.update({ collection: "accounts", key: acc1Id, data: { "primarycontactid@odata.bind": `contacts(${contact1Id})` } }), true, "update result");
  const rec = await api.retrieve({ collection: "accounts", key: acc1Id, select: ["_primarycontactid_value"] });
  eq(guidOf(rec._primarycontactid_value), guidOf(contact1Id), "_primarycontactid_value");
});

// 10. retrieveMultiple with filter/select/orderby
const prefix = `DWA-${RUN}-P`;
const pageIds = [];
await step("create 5 accounts for paging", async () => {
  for (let i = 1; i <= 5; i++) {
    const id = await api.create({ collection: "accounts", data: { name: `${prefix}${i}`, accountnumber: `ACC-${RUN}-P${i}`, numberofemployees: i } });
    assert(GUID_RE.test(id || ""), `id of paging account ${i}`, id);
    pageIds.push(id);
    cleanup.push(["accounts", id]);
  }
});

await step("retrieveMultiple with $filter/$select/$orderby", async () => {
  const res = await api.retrieveMultiple({
    collection: "accounts",
    select: ["name", "accountnumber"],
    filter: `startswith(name,'${prefix}') and numberofemployees ge 2`,
    orderBy: ["name desc"],
  });
  assert(Array.isArray(res.value), "response.value must be an array", res);
  eq(res.value.length, 4, "row count");
  eq(res.value.map((r) => r.name).join("|"), [5, 4, 3, 2].map((i) => prefix + i).join("|"), "order (name desc)");
  assert(res.value.every((r) => GUID_RE.test(r.accountid || "")), "each row has accountid", res.value[0]);
  assert(res.value.every((r) => !("telephone1" in r)), "unselected columns absent", res.value[0]);
  assert(typeof res.oDataContext === "string", "@odata.context should be present (exposed as oDataContext)", Object.keys(res));
  return res.value.map((r) => r.name);
});

// 11. paging
await step("retrieveMultiple maxPageSize 2 returns @odata.nextLink; following it works", async () => {
  const req = { collection: "accounts", select: ["name"], filter: `startswith(name,'${prefix}')`, orderBy: ["name asc"], maxPageSize: 2 };
  const p1 = await api.retrieveMultiple(req);
  eq(p1.value.length, 2, "page 1 size");
  assert(typeof p1.oDataNextLink === "string", "@odata.nextLink expected on page 1", Object.keys(p1));
  assert(p1.oDataNextLink.startsWith(`${serverUrl}api/data/v9.2/`), `nextLink must start with the exact client base URL ${serverUrl}api/data/v9.2/ (library strips that prefix)`, p1.oDataNextLink);
  const p2 = await api.retrieveMultiple(req, p1.oDataNextLink);
  eq(p2.value.length, 2, "page 2 size");
  eq(p2.value[0].name, prefix + "3", "page 2 first row");
});

await step("retrieveAll with maxPageSize 2 across 5 records", async () => {
  const res = await api.retrieveAll({ collection: "accounts", select: ["name"], filter: `startswith(name,'${prefix}')`, orderBy: ["name asc"], maxPageSize: 2 });
  eq(res.value.length, 5, "total rows");
  eq(new Set(res.value.map((r) => guidOf(r.accountid))).size, 5, "distinct ids");
  eq(res.value.map((r) => r.name).join("|"), [1, 2, 3, 4, 5].map((i) => prefix + i).join("|"), "order across pages");
});

// 12. count
await step("count with filter ($count=true, reads @odata.count)", async () => {
  const n = await api.count({ collection: "accounts", filter: `startswith(name,'${prefix}')` });
  eq(n, 5, "count");
});
await step("count without filter (GET accounts/$count, text/plain)", async () => {
  const n = await api.count({ collection: "accounts" });
  assert(typeof n === "number" && n >= 7, "count must be a number >= 7 (parsed from a text/plain body)", n);
  return n;
});
await step("countAll with filter (pages through retrieveAll)", async () => {
  const n = await api.countAll({ collection: "accounts", filter: `startswith(name,'${prefix}')`, select: ["accountid"], maxPageSize: 2 });
  eq(n, 5, "countAll");
});

// 12b. FetchXML: fetch with a link-entity, and fetchAll paging through the cookie
await step("fetch (FetchXML with a condition, order and an outer link-entity)", async () => {
  const fetchXml = `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/>` +
    `<filter><condition attribute="name" operator="begins-with" value="${prefix}"/></filter>` +
    `<link-entity name="contact" from="contactid" to="primarycontactid" link-type="outer" alias="pc"><attribute name="lastname"/></link-entity>` +
    `</entity></fetch>`;
  const res = await api.fetch({ collection: "accounts", fetchXml });
  eq(res.value.length, 5, "rows");
  eq(res.value.map((r) => r.name).join("|"), [1, 2, 3, 4, 5].map((i) => prefix + i).join("|"), "order");
  assert(res.value.every((r) => GUID_RE.test(r.accountid)), "every row has its accountid", res.value);
  assert(res.value.every((r) => !("pc.lastname" in r)), "no primary contact, so no pc.lastname (FetchXML leaves nulls out)", res.value);
});
await step("fetchAll (FetchXML pages of 2 through the paging cookie)", async () => {
  const fetchXml = `<fetch count="2"><entity name="account"><attribute name="name"/><order attribute="name"/>` +
    `<filter><condition attribute="name" operator="like" value="${prefix}%"/></filter></entity></fetch>`;
  // The cookie comes only when asked for, as in Dataverse.
  const res = await api.fetchAll({ collection: "accounts", fetchXml, includeAnnotations: "Microsoft.Dynamics.CRM.fetchxmlpagingcookie" });
  eq(res.value.length, 5, "rows across pages");
  eq(res.value.map((r) => r.name).join("|"), [1, 2, 3, 4, 5].map((i) => prefix + i).join("|"), "order across pages");
});

await step("fetch (FetchXML aggregate: count and sum over a wildcard set, with formatted values)", async () => {
  const fetchXml = `<fetch aggregate="true"><entity name="account"><attribute name="accountid" aggregate="count" alias="n"/>` +
    `<attribute name="revenue" aggregate="sum" alias="total"/>` +
    `<filter><condition attribute="name" operator="like" value="${prefix}[1-3]"/></filter></entity></fetch>`;
  const res = await api.fetch({ collection: "accounts", fetchXml, includeAnnotations: "OData.Community.Display.V1.FormattedValue" });
  eq(res.value.length, 1, "one group");
  eq(res.value[0].n, 3, "a wildcard set selects three accounts");
  eq(res.value[0].n_Formatted, "3", "the count's formatted value, as the client parses it");
});
await step("fetch (FetchXML order through a link-entity with entityname, not any inside a filter)", async () => {
  const fetchXml = `<fetch><entity name="account"><attribute name="name"/>` +
    `<order entityname="pc" attribute="lastname" descending="true"/><order attribute="name" descending="true"/>` +
    `<filter><condition attribute="name" operator="begins-with" value="${prefix}"/>` +
    `<link-entity name="contact" from="parentcustomerid" to="accountid" link-type="not any"><filter><condition attribute="lastname" operator="eq" value="nobody-${prefix}"/></filter></link-entity></filter>` +
    `<link-entity name="contact" from="contactid" to="primarycontactid" link-type="outer" alias="pc"/></entity></fetch>`;
  const res = await api.fetch({ collection: "accounts", fetchXml });
  eq(res.value.map((r) => r.name).join("|"), [5, 4, 3, 2, 1].map((i) => prefix + i).join("|"), "nulls of the link's column tie, then name descending");
});
await step("fetch with a long FetchXML (the client sends it inside a $batch)", async () => {
  const values = Array.from({ length: 150 }, (_, i) => `<value>${prefix}${i}</value>`).join("");
  const fetchXml = `<fetch><entity name="account"><attribute name="name"/><order attribute="name"/>` +
    `<filter><condition attribute="name" operator="in">${values}</condition></filter></entity></fetch>`;
  assert(encodeURIComponent(fetchXml).length > 2000, "the query must be long enough for the client to batch it");
  const res = await api.fetch({ collection: "accounts", fetchXml });
  eq(res.value.map((r) => r.name).join("|"), [1, 2, 3, 4, 5].map((i) => prefix + i).join("|"), "rows");
});

// 13. expand
await step("retrieve with $expand primarycontactid($select=…)", async () => {
  assert(acc1Id && contact1Id, "needs earlier steps");
  const rec = await api.retrieve({
    collection: "accounts",
    key: acc1Id,
    select: ["name"],
    expand: [{ property: "primarycontactid", select: ["firstname", "lastname", "fullname"] }],
  });
  assert(rec.primarycontactid && typeof rec.primarycontactid === "object", "primarycontactid should be an expanded object", rec);
  eq(guidOf(rec.primarycontactid.contactid), guidOf(contact1Id), "primarycontactid.contactid");
  eq(rec.primarycontactid.firstname, "Ada", "primarycontactid.firstname");
  if (rec.primarycontactid.fullname !== `Ada Lovelace${RUN}`) console.log(`      note: fullname is ${fmt(rec.primarycontactid.fullname)} (Dataverse computes "Ada Lovelace${RUN}")`);
  return rec.primarycontactid;
});
await step("retrieveMultiple with $expand primarycontactid", async () => {
  assert(acc1Id && contact1Id, "needs earlier steps");
  const res = await api.retrieveMultiple({ collection: "accounts", select: ["name"], filter: `accountid eq ${acc1Id}`, expand: [{ property: "primarycontactid", select: ["firstname"] }] });
  eq(res.value.length, 1, "rows");
  eq(res.value[0].primarycontactid?.firstname, "Ada", "expanded firstname");
});

// 14. errors
await step("retrieve of missing id rejects with 404 and body error fields", async () => {
  const e = await expectReject(api.retrieve({ collection: "accounts", key: "00000000-0000-0000-0000-0000000000ab" }), "retrieve missing");
  eq(e.status, 404, "error.status");
  assert(typeof e.message === "string" && e.message.length > 0 && e.message !== "Unexpected Error", "error.message from JSON body {error:{code,message}}", e.message);
  assert(e.code !== undefined, "error.code from JSON body", e);
  assert(e.headers && typeof e.headers === "object", "error.headers", e);
  return { status: e.status, code: e.code, message: e.message };
});

// 14b. many-to-many: associate / disassociate through new_account_contact
await step("associate and disassociate (N:N new_account_contact, $ref)", async () => {
  assert(acc1Id && contact1Id, "needs earlier steps");
  await api.associate({ collection: "accounts", primaryKey: acc1Id, relationshipName: "new_account_contact", relatedCollection: "contacts", relatedKey: contact1Id });
  const linked = await api.retrieveMultiple({ collection: `accounts(${acc1Id})/new_account_contact`, select: ["contactid"] });
  eq(linked.value.map((r) => guidOf(r.contactid)).join(","), guidOf(contact1Id), "associated contacts");
  const expanded = await api.retrieve({ collection: "accounts", key: acc1Id, select: ["name"], expand: [{ property: "new_account_contact", select: ["contactid"] }] });
  eq((expanded.new_account_contact || []).length, 1, "$expand over the N:N");
  await api.disassociate({ collection: "accounts", primaryKey: acc1Id, relationshipName: "new_account_contact", relatedKey: contact1Id });
  const after = await api.retrieveMultiple({ collection: `accounts(${acc1Id})/new_account_contact`, select: ["contactid"] });
  eq(after.value.length, 0, "associated contacts after disassociate");
});

// 15. callFunction WhoAmI
await step("callFunction WhoAmI", async () => {
  const r = await api.callFunction("WhoAmI");
  assert(r && GUID_RE.test(r.UserId || ""), "UserId GUID", r);
  assert(GUID_RE.test(r.BusinessUnitId || ""), "BusinessUnitId GUID", r);
  assert(GUID_RE.test(r.OrganizationId || ""), "OrganizationId GUID", r);
  return r;
});

// ---------------------------------------------------------------------------
// Extended steps
if (EXTENDED) {
  const g = { group: "ext" };
  await step("updateSingleProperty (PUT accounts(id)/telephone1 {value})", async () => {
    assert(acc2Id, "needs step 2");
    await api.updateSingleProperty({ collection: "accounts", key: acc2Id, fieldValuePair: { telephone1: "555-0222" } });
    const rec = await api.retrieve({ collection: "accounts", key: acc2Id, select: ["telephone1"] });
    eq(rec.telephone1, "555-0222", "telephone1");
  }, g);

  await step("deleteRecord single property (DELETE accounts(id)/telephone1)", async () => {
    assert(acc2Id, "needs step 2");
    const r = await api.deleteRecord({ collection: "accounts", key: acc2Id, property: "telephone1" });
    eq(r, true, "deleteRecord result");
    const rec = await api.retrieve({ collection: "accounts", key: acc2Id, select: ["telephone1"] });
    eq(rec.telephone1, null, "telephone1 after delete");
  }, g);

  await step("retrieve with ifnonematch = current etag -> 304 -> resolves undefined", async () => {
    assert(acc2Id, "needs step 2");
    const rec = await api.retrieve({ collection: "accounts", key: acc2Id, select: ["name"] });
    const again = await api.retrieve({ collection: "accounts", key: acc2Id, select: ["name"], ifnonematch: rec["@odata.etag"] });
    eq(again, undefined, "retrieve() result for 304");
  }, g);

  await step("update with stale ifmatch etag -> 412 -> update() resolves false", async () => {
    assert(acc2Id, "needs step 2");
    const r = await api.update({ collection: "accounts", key: acc2Id, data: { name: "stale" }, ifmatch: 'W/"1"' });
    eq(r, false, "update() result when server answers 412");
  }, g);

  await step("disassociateSingleValued / associateSingleValued ($ref)", async () => {
    assert(acc1Id && contact2Id, "needs earlier steps");
    await api.disassociateSingleValued({ collection: "accounts", primaryKey: acc1Id, navigationProperty: "primarycontactid" });
    let rec = await api.retrieve({ collection: "accounts", key: acc1Id, select: ["_primarycontactid_value"] });
    eq(rec._primarycontactid_value, null, "_primarycontactid_value after DELETE $ref");
    await api.associateSingleValued({ collection: "accounts", primaryKey: acc1Id, navigationProperty: "primarycontactid", relatedCollection: "contacts", relatedKey: contact2Id });
    rec = await api.retrieve({ collection: "accounts", key: acc1Id, select: ["_primarycontactid_value"] });
    eq(guidOf(rec._primarycontactid_value), guidOf(contact2Id), "_primarycontactid_value after PUT $ref");
  }, g);

  if (BATCH) {
    await step("$batch: GET + change set (create, create with $1 bind, update)", async () => {
      assert(acc1Id, "needs step 1");
      api.startBatch();
      api.retrieveMultiple({ collection: "accounts", select: ["name"], filter: `accountid eq ${acc1Id}` });
      api.create({ collection: "accounts", data: { name: `DWA ${RUN} batch`, accountnumber: `ACC-${RUN}-B` }, contentId: "1" });
      api.create({ collection: "contacts", data: { firstname: "Batch", lastname: `Child${RUN}`, "parentcustomerid_account@odata.bind": "$1" } });
      api.update({ collection: "accounts", key: acc1Id, data: { telephone1: "555-0333" } });
      const res = await api.executeBatch();
      assert(Array.isArray(res), "executeBatch resolves to an array", res);
      const errs = res.filter((x) => x instanceof Error);
      assert(!errs.length, "batch contained failed parts", errs.map(describeError));
      eq(res.length, 4, "number of batch responses");
      assert(Array.isArray(res[0]?.value) && res[0].value.length === 1, "response[0] is the retrieveMultiple payload", res[0]);
      assert(GUID_RE.test(res[1] || ""), "response[1] is the created account id (OData-EntityId inside the part)", res[1]);
      assert(GUID_RE.test(res[2] || ""), "response[2] is the created contact id", res[2]);
      cleanup.unshift(["contacts", res[2]]);
      cleanup.push(["accounts", res[1]]);
      eq(res[3], true, "response[3] is update() => true");
      const c = await api.retrieve({ collection: "contacts", key: res[2], select: ["_parentcustomerid_value"] });
      eq(guidOf(c._parentcustomerid_value), guidOf(res[1]), "contact bound via $1 Content-ID reference");
      const a = await api.retrieve({ collection: "accounts", key: acc1Id, select: ["telephone1"] });
      eq(a.telephone1, "555-0333", "update inside change set applied");
    }, g);

    await step("$batch: failing change set surfaces an Error with status 412/4xx", async () => {
      assert(orderId, "needs upsert step");
      api.startBatch();
      api.upsert({ collection: "new_orders", key: `new_ordernumber='${orderNumber}'`, data: { new_amount: 1 }, ifnonematch: "*" });
      let res;
      try {
        res = await api.executeBatch();
      } catch (e) {
        res = e; // library rejects with the parsed array when the outer status is not 2xx
      }
      const arr = Array.isArray(res) ? res : [res];
      const err = arr.find((x) => x instanceof Error);
      assert(err, "one of the batch results must be an Error object", arr);
      assert(err.status >= 400 && err.status < 500, "error.status from the part's HTTP status line", err);
      return { status: err.status, message: err.message };
    }, g);
  } else {
    console.log("SKIP  [ext] $batch steps (DWA_BATCH=0)");
  }
}

// 16. deleteRecord
await step("deleteRecord resolves true, then retrieve -> 404", async () => {
  const victim = pageIds[4];
  assert(victim, "needs paging accounts");
  eq(await api.deleteRecord({ collection: "accounts", key: victim }), true, "deleteRecord result");
  const idx = cleanup.findIndex(([, id]) => id === victim);
  if (idx >= 0) cleanup.splice(idx, 1);
  const e = await expectReject(api.retrieve({ collection: "accounts", key: victim, select: ["name"] }), "retrieve deleted");
  eq(e.status, 404, "status");
});

// ---------------------------------------------------------------------------
// best-effort cleanup (not counted)
if (!unreachable) {
  let failed = 0;
  for (const [collection, id] of cleanup) {
    if (!id) continue;
    try {
      await api.deleteRecord({ collection, key: id });
    } catch {
      failed++;
    }
  }
  console.log(`cleanup: ${cleanup.length - failed}/${cleanup.length} records deleted`);
}

const failedSteps = results.filter((r) => !r.ok && !r.skipped);
const skipped = results.filter((r) => r.skipped).length;
console.log(
  `\nSUMMARY: ${results.length - failedSteps.length - skipped}/${results.length} steps passed, ${failedSteps.length} failed, ${skipped} skipped` +
    (failedSteps.length ? `\nFAILED: ${failedSteps.map((r) => r.name).join("\n        ")}` : "") +
    (unreachable ? `\nserver ${BASE} unreachable` : "")
);
process.exit(unreachable ? 2 : failedSteps.length ? 1 : 0);
