-- Argo CD health of a SupportCase (support.puzzle.ch), keyed on the operator's Ready condition.
-- Progressing: not reconciled yet (no status, Ready missing or Unknown, observedGeneration behind) or its
--   contract does not exist yet (ContractNotFound: the case waits and is served once the contract appears).
-- Suspended: the contract is suspended or has not started (ContractSuspended/ContractNotStarted).
-- Degraded: Ready=False for any other reason (ContractExpired, ContractInvalidCalendar, ...); the reaction
--   deadline was missed and analysis has still not started (state New, reaction Breached: the same rule as
--   the SupportReactionBreached alert); the confirmation e-mail failed (Confirmed=False, EmailFailed).
-- Otherwise Healthy: a breach is history once analysis started, and closed cases keep their result.
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
  hs.message = "Waiting for the support operator to reconcile the case"
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
  if ready.reason == "ContractNotFound" or ready.reason == "ContractUnknown" then
    hs.status = "Progressing"
  elseif ready.reason == "ContractSuspended" or ready.reason == "ContractNotStarted" then
    hs.status = "Suspended"
  else
    hs.status = "Degraded"
  end
  hs.message = ready.reason .. ": " .. text(ready)
  return hs
end

local state = "New"
if obj.spec ~= nil and obj.spec.state ~= nil then
  state = obj.spec.state
end
local reaction = obj.status.reaction
if reaction ~= nil and reaction.state == "Breached" and state == "New" then
  hs.status = "Degraded"
  hs.message = "Reaction deadline " .. (reaction.deadline or "?") .. " missed and analysis has not started"
  return hs
end

local confirmed = condition("Confirmed")
if confirmed ~= nil and confirmed.status == "False" and confirmed.reason == "EmailFailed" then
  hs.status = "Degraded"
  hs.message = "Confirmation e-mail failed: " .. text(confirmed)
  return hs
end

hs.status = "Healthy"
hs.message = text(ready)
if reaction ~= nil and reaction.state ~= nil then
  hs.message = (obj.status.priority or "") .. " " .. state .. ", reaction " .. reaction.state
  if reaction.deadline ~= nil then
    hs.message = hs.message .. " (deadline " .. reaction.deadline .. ")"
  end
end
return hs
