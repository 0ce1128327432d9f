-- Argo CD health check for chat.gatewayops.io/GenesysGateway (kstatus conventions).
-- Argo CD passes the live object as obj; the script returns hs.status and hs.message.
-- The rules, first match wins:
--   1. spec.suspend true -> Suspended: the operator no longer reconciles the gateway, so
--      its status is frozen (and its observedGeneration lags); running runners keep running.
--   2. status.observedGeneration missing, -1 or < metadata.generation -> Progressing
--      ("Waiting for the operator to observe generation N"): the conditions are stale.
--   3. Stalled True -> Degraded (Stalled's message): nothing changes until the spec does.
--   4. Reconciling True -> Progressing (Ready's message, else Reconciling's).
--   5. No Ready, or Ready's observedGeneration != metadata.generation -> Progressing.
--   6. Ready True -> Healthy (also deploy: false, reason NotDeployed: valid, nothing runs).
--   7. Ready False -> Degraded (Ready's message, e.g. SecretNotFound; it recovers by itself
--      once the Secret exists, but needs someone to act).
--   8. Otherwise (Ready Unknown) -> Progressing (Ready's message).
local hs = {}

local function condition(ctype)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == ctype then
      return c
    end
  end
  return nil
end

local function describe(c)
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return c.type .. " " .. c.status .. " (" .. tostring(c.reason) .. ")"
end

local generation = obj.metadata.generation or 0

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "GenesysGateway is suspended (spec.suspend)"
  return hs
end

local observed = -1
if obj.status ~= nil and obj.status.observedGeneration ~= nil then
  observed = obj.status.observedGeneration
end
if observed < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

local ready = condition("Ready")
local reconciling = condition("Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  if ready ~= nil and ready.message ~= nil and ready.message ~= "" then
    hs.message = ready.message
  else
    hs.message = describe(reconciling)
  end
  return hs
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end
if ready.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for Ready to reflect generation " .. tostring(generation)
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
elseif ready.status == "False" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
hs.message = describe(ready)
return hs
