# Pick the cleanest allowed cloud region with lowcarb, through Terraform's `external` data source.
#
#   terraform init && terraform apply -var 'allowed_regions=["aws:eu-west-1","aws:eu-north-1"]'
#
# Terraform runs `lowcarb regions rank --json`, sends the query below on its stdin as a JSON object
# of strings, and reads back one flat JSON object of strings (data.external.cleanest.result).
# lowcarb must be on the PATH of the machine that runs Terraform (pip install lowcarb).

terraform {
  required_providers {
    external = {
      source  = "hashicorp/external"
      version = "~> 2.3"
    }
  }
}

variable "allowed_regions" {
  description = "Regions the workload may run in, as provider:region (`lowcarb zones` lists them)."
  type        = list(string)
  default     = ["aws:eu-west-1", "aws:eu-central-1", "aws:eu-north-1"]
}

variable "window" {
  description = "Rank by the intensity now (\"now\") or by the mean forecast over a window (\"24h\")."
  type        = string
  default     = "now"
}

data "external" "cleanest" {
  program = ["lowcarb", "regions", "rank", "--json"]

  query = {
    candidates = join(",", var.allowed_regions)
    window     = var.window
  }
}

output "region" {
  description = "The provider's name of the cleanest allowed region, e.g. eu-north-1."
  value       = data.external.cleanest.result.region
}

output "provider" {
  value = data.external.cleanest.result.provider
}

output "zone" {
  description = "The grid zone that powers it (Electricity Maps zone id)."
  value       = data.external.cleanest.result.zone
}

output "intensity_g_per_kwh" {
  value = tonumber(data.external.cleanest.result.intensity_g_per_kwh)
}

output "reason" {
  value = data.external.cleanest.result.reason
}

output "ranked" {
  description = "Every allowed region, cleanest first."
  value       = split(",", data.external.cleanest.result.ranked)
}

# Use it, e.g.:
#
#   provider "aws" {
#     region = data.external.cleanest.result.region
#   }
#
# A data source is read again on every plan, so the answer can change between plans as the grid
# does; see README.md for pinning the choice of a long-lived resource.
