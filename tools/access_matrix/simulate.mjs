// Evaluate a batch of AWS authorization requests with @cloud-copilot/iam-simulate (AGPL-3.0, a pinned dev
// dependency: run as this separate process by tools/access_matrix, never imported by the project's code).
//
// stdin:  {"documents": {name: policy document}, "requests": [request, ...]} where a request is
//         {"principal", "action", "resource", "resourceAccount", "context": {key: value},
//          "identity": [name], "resourcePolicy": name | null,
//          "scp": [{"org": id, "policies": [name]}], "rcp": [{"org": id, "policies": [name]}]}
//         (policies by name, so each document crosses the pipe, and is validated, once).
// stdout: {"decisions": ["Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied", ...], "milliseconds": total}
// A request the simulator refuses as invalid ends the process with status 2 and its errors on stderr.
import {
  createValidatedPolicy,
  validateIdentityPolicy,
  validateResourceControlPolicy,
  validateResourcePolicy,
  validateServiceControlPolicy
} from '@cloud-copilot/iam-policy'
import { runSimulation } from '@cloud-copilot/iam-simulate'

// The simulator compares names with String.prototype.localeCompare(other, undefined, {sensitivity: 'accent'}),
// which builds a new collator on every call (most of the run time). The same comparison through one
// Intl.Collator built with the same arguments is the same function (ECMA-402 defines localeCompare so).
const accentCollator = new Intl.Collator(undefined, { sensitivity: 'accent' })
const localeCompare = String.prototype.localeCompare
String.prototype.localeCompare = function (that, locales, options) {
  if (locales === undefined && options?.sensitivity === 'accent' && Object.keys(options).length === 1) {
    return accentCollator.compare(String(this), String(that))
  }
  return localeCompare.call(this, that, locales, options)
}

async function readStdin() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

// Each document validated once per kind, not once per request: the simulator reuses a validated policy.
const validated = new Map()
function policy(name, kind, validate) {
  const key = `${kind}/${name}`
  if (!validated.has(key)) validated.set(key, createValidatedPolicy(documents[name], validate))
  return validated.get(key)
}

function orgPolicies(levels, kind, validate) {
  return levels.map((level) => ({
    orgIdentifier: level.org,
    policies: level.policies.map((name) => ({ name, policy: policy(name, kind, validate) }))
  }))
}

const batch = await readStdin()
const documents = batch.documents
const decisions = []
const started = performance.now()
for (const [index, request] of batch.requests.entries()) {
  const simulation = {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.resourceAccount },
      contextVariables: request.context
    },
    identityPolicies: request.identity.map((name) => ({
      name,
      policy: policy(name, 'identity', validateIdentityPolicy)
    })),
    serviceControlPolicies: orgPolicies(request.scp, 'scp', validateServiceControlPolicy),
    resourceControlPolicies: orgPolicies(request.rcp, 'rcp', validateResourceControlPolicy),
    resourcePolicy:
      request.resourcePolicy === null
        ? undefined
        : policy(request.resourcePolicy, 'resource', validateResourcePolicy)
  }
  const result = await runSimulation(simulation, { simulationMode: 'Strict' })
  if (result.resultType === 'error') {
    process.stderr.write(`request ${index} (${request.action} on ${request.resource} by ${request.principal}): `)
    process.stderr.write(JSON.stringify(result.errors) + '\n')
    process.exit(2)
  }
  decisions.push(result.overallResult)
}
process.stdout.write(JSON.stringify({ decisions, milliseconds: performance.now() - started }))
