-- Argo CD health of a SupportContract (support.puzzle.ch), keyed on the operator's Ready condition.
-- Progressing: not reconciled yet (no status, Ready missing or Unknown, observedGeneration behind).
-- Suspended: spec.suspended or the period has not started (Ready=False, Suspended/NotStarted): waiting by design.
-- Degraded: Ready=False for any other reason (Expired, InvalidCalendar, ...) or access could not be
-- provisioned (AccessProvisioned=False, Forbidden/ProvisioningFailed). Otherwise Healthy.
local hs = {}

local function condition(conditionType)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

local function text(c)
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return c.reason or ""
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the support operator to reconcile the contract"
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = string.format("Waiting for the support operator to observe generation %d", generation)
  return hs
end

local ready = condition("Ready")
if ready == nil or ready.status == "Unknown" then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end

if ready.status == "False" then
  if ready.reason == "Suspended" or ready.reason == "NotStarted" then
    hs.status = "Suspended"
  else
    hs.status = "Degraded"
  end
  hs.message = ready.reason .. ": " .. text(ready)
  return hs
end

local access = condition("AccessProvisioned")
if access ~= nil and access.status == "False"
    and (access.reason == "Forbidden" or access.reason == "ProvisioningFailed") then
  hs.status = "Degraded"
  hs.message = "AccessProvisioned " .. access.reason .. ": " .. text(access)
  return hs
end

hs.status = "Healthy"
hs.message = text(ready)
return hs
