"""Alert rules as files: per-team budget rules from a budgets file, and Grafana copies of Prometheus rules.

Used by the `otel-ai-cost alerts` command; nothing here runs inside an instrumented application.
"""

from otel_ai_cost.alerting.budgets import Budget, BudgetsError, BudgetsFile, load_budgets
from otel_ai_cost.alerting.grafana import grafana_alert_provisioning
from otel_ai_cost.alerting.prometheus import RuleFile, RulesError, budget_rules, load_rule_file

__all__ = [
    "Budget",
    "BudgetsError",
    "BudgetsFile",
    "RuleFile",
    "RulesError",
    "budget_rules",
    "grafana_alert_provisioning",
    "load_budgets",
    "load_rule_file",
]
