// wasi:config/store for the component under Node.js: values come from DTCOST_* environment
// variables (DTCOST_ACCOUNT_UUID -> key `account-uuid`), so secrets never sit in a file or argv.
const key = (name) => "DTCOST_" + name.toUpperCase().replaceAll("-", "_");

export function get(name) {
  return process.env[key(name)];
}

export function getAll() {
  return Object.entries(process.env)
    .filter(([name]) => name.startsWith("DTCOST_"))
    .map(([name, value]) => [name.slice(7).toLowerCase().replaceAll("_", "-"), value]);
}
