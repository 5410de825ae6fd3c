package hcl

import (
	"fmt"
	"strings"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/handrail-dev/handrail/runbook"
)

// ParseCondition parses src, a check condition over self such as
// "self.value < 0.02", for use away from a runbook: `handrail gate eval`
// re-classifies recorded samples with it. The expression sees self (the
// sample's value as self.value, and the fields of an object value, such as
// self.verdict) and the functions runbooks have; a reference to anything
// else (var., step., local.) is an error naming it, since a recorded sample
// carries no run to resolve it in.
func ParseCondition(src string) (runbook.Condition, error) {
	expr, diags := hclsyntax.ParseExpression([]byte(src), "condition", hhcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		return nil, fmt.Errorf("condition %q: %s", src, diags.Error())
	}
	for _, tr := range expr.Variables() {
		if root := tr.RootName(); root != "self" {
			return nil, fmt.Errorf("condition %q: %s is not available when re-evaluating recorded samples: write the number itself (only self.* can be used)", src, root)
		}
	}
	rb := newRunbook(".", Options{})
	return &offlineCondition{src: src, expr: expr, funcs: rb.functions()}, nil
}

type offlineCondition struct {
	src   string
	expr  hclsyntax.Expression
	funcs map[string]function.Function
}

// String returns the condition's source.
func (c *offlineCondition) String() string { return c.src }

// Holds evaluates the condition with self.value = value (and, when value
// is an object, its fields beside it).
func (c *offlineCondition) Holds(_ *runbook.Env, value any) (bool, error) {
	self := map[string]any{}
	if m, ok := value.(map[string]any); ok {
		for k, v := range m {
			self[k] = v
		}
	}
	self["value"] = value
	sv, err := goToCty(self)
	if err != nil {
		return false, fmt.Errorf("condition %q: %w", c.src, err)
	}
	v, diags := c.expr.Value(&hhcl.EvalContext{Variables: map[string]cty.Value{"self": sv}, Functions: c.funcs})
	if diags.HasErrors() {
		return false, fmt.Errorf("condition %q: %s", c.src, strings.TrimSpace(diags.Error()))
	}
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return false, fmt.Errorf("condition %q has no value for this sample", c.src)
	}
	b, err := convertTo(v, cty.Bool)
	if err != nil {
		return false, fmt.Errorf("condition %q must be true or false, not a %s", c.src, v.Type().FriendlyName())
	}
	return b.True(), nil
}
