package hcl

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// functions returns the functions available to runbooks: the go-cty
// standard library, try/can, file/templatefile (relative to the runbook's
// folder), sensitive/nonsensitive and timestamp.
func (rb *Runbook) functions() map[string]function.Function {
	fs := map[string]function.Function{
		"abs": stdlib.AbsoluteFunc, "ceil": stdlib.CeilFunc, "floor": stdlib.FloorFunc, "log": stdlib.LogFunc,
		"max": stdlib.MaxFunc, "min": stdlib.MinFunc, "parseint": stdlib.ParseIntFunc, "pow": stdlib.PowFunc,
		"signum": stdlib.SignumFunc, "int": stdlib.IntFunc,
		"chomp": stdlib.ChompFunc, "format": stdlib.FormatFunc, "formatlist": stdlib.FormatListFunc,
		"indent": stdlib.IndentFunc, "join": stdlib.JoinFunc, "lower": stdlib.LowerFunc, "upper": stdlib.UpperFunc,
		"regex": stdlib.RegexFunc, "regexall": stdlib.RegexAllFunc, "regex_replace": stdlib.RegexReplaceFunc,
		"replace": stdlib.ReplaceFunc, "split": stdlib.SplitFunc, "strlen": stdlib.StrlenFunc,
		"strrev": stdlib.ReverseFunc, "substr": stdlib.SubstrFunc, "title": stdlib.TitleFunc,
		"trim": stdlib.TrimFunc, "trimprefix": stdlib.TrimPrefixFunc, "trimsuffix": stdlib.TrimSuffixFunc,
		"trimspace": stdlib.TrimSpaceFunc,
		"chunklist": stdlib.ChunklistFunc, "coalesce": stdlib.CoalesceFunc, "coalescelist": stdlib.CoalesceListFunc,
		"compact": stdlib.CompactFunc, "concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc,
		"distinct": stdlib.DistinctFunc, "element": stdlib.ElementFunc, "flatten": stdlib.FlattenFunc,
		"index": stdlib.IndexFunc, "keys": stdlib.KeysFunc, "length": stdlib.LengthFunc, "lookup": stdlib.LookupFunc,
		"merge": stdlib.MergeFunc, "range": stdlib.RangeFunc, "reverse": stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc, "setproduct": stdlib.SetProductFunc,
		"setsubtract": stdlib.SetSubtractFunc, "setunion": stdlib.SetUnionFunc, "slice": stdlib.SliceFunc,
		"sort": stdlib.SortFunc, "values": stdlib.ValuesFunc, "zipmap": stdlib.ZipmapFunc,
		"csvdecode": stdlib.CSVDecodeFunc, "jsondecode": stdlib.JSONDecodeFunc, "jsonencode": stdlib.JSONEncodeFunc,
		"formatdate": stdlib.FormatDateFunc, "timeadd": stdlib.TimeAddFunc,
		"try": tryfunc.TryFunc, "can": tryfunc.CanFunc,
		"sensitive": function.New(&function.Spec{
			Description: "Marks a value as sensitive.",
			Params:      []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowMarked: true, AllowUnknown: true, AllowNull: true, AllowDynamicType: true}},
			Type:        func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
			Impl:        func(args []cty.Value, _ cty.Type) (cty.Value, error) { return markSensitive(args[0]), nil },
		}),
		"nonsensitive": function.New(&function.Spec{
			Description: "Removes the sensitive mark of a value.",
			Params:      []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowMarked: true, AllowUnknown: true, AllowNull: true, AllowDynamicType: true}},
			Type:        func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				v, marks := args[0].Unmark()
				delete(marks, sensitiveMark)
				return v.WithMarks(marks), nil
			},
		}),
		"timestamp": function.New(&function.Spec{
			Description: "Returns the current UTC time in RFC 3339 format.",
			Params:      []function.Parameter{},
			Type:        function.StaticReturnType(cty.String),
			Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
				return cty.StringVal(rb.opts.Now().UTC().Format(time.RFC3339)), nil
			},
		}),
		"urlencode": function.New(&function.Spec{
			Description: "Escapes a string for a URL query (as Terraform's urlencode: url.QueryEscape), so that a value with &, =, #, spaces or newlines stays one parameter.",
			Params:      []function.Parameter{{Name: "str", Type: cty.String, AllowMarked: true}},
			Type:        function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				v, marks := args[0].Unmark()
				return cty.StringVal(url.QueryEscape(v.AsString())).WithMarks(marks), nil
			},
		}),
		"file":       rb.fileFunc(false),
		"filebase64": rb.fileFunc(true),
		"fileexists": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "path", Type: cty.String}},
			Type:   function.StaticReturnType(cty.Bool),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				st, err := os.Stat(rb.resolvePath(args[0].AsString()))
				return cty.BoolVal(err == nil && st.Mode().IsRegular()), nil
			},
		}),
	}
	for name, ty := range map[string]cty.Type{"tostring": cty.String, "tonumber": cty.Number, "tobool": cty.Bool,
		"tolist": cty.List(cty.DynamicPseudoType), "toset": cty.Set(cty.DynamicPseudoType), "tomap": cty.Map(cty.DynamicPseudoType)} {
		fs[name] = stdlib.MakeToFunc(ty)
	}
	fs["templatefile"] = rb.templateFileFunc(fs)
	return fs
}

func (rb *Runbook) resolvePath(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(rb.dir, p)
}

func (rb *Runbook) fileFunc(b64 bool) function.Function {
	return function.New(&function.Spec{
		Description: "Reads a file relative to the runbook's folder.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			b, err := os.ReadFile(rb.resolvePath(args[0].AsString()))
			if err != nil {
				return cty.NilVal, function.NewArgErrorf(0, "cannot read file: %s", err)
			}
			if b64 {
				return cty.StringVal(base64.StdEncoding.EncodeToString(b)), nil
			}
			if !utf8.Valid(b) {
				return cty.NilVal, function.NewArgErrorf(0, "file %s is not valid UTF-8; use filebase64", args[0].AsString())
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

func (rb *Runbook) templateFileFunc(fs map[string]function.Function) function.Function {
	return function.New(&function.Spec{
		Description: "Renders a template file relative to the runbook's folder with the given variables.",
		Params: []function.Parameter{
			{Name: "path", Type: cty.String},
			{Name: "vars", Type: cty.DynamicPseudoType, AllowMarked: true},
		},
		Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			path := args[0].AsString()
			b, err := os.ReadFile(rb.resolvePath(path))
			if err != nil {
				return cty.NilVal, function.NewArgErrorf(0, "cannot read template: %s", err)
			}
			expr, diags := hclsyntax.ParseTemplate(b, path, hhcl.InitialPos)
			if diags.HasErrors() {
				return cty.NilVal, function.NewArgErrorf(0, "invalid template %s: %s", path, diags.Error())
			}
			vars, marks := args[1].Unmark()
			if !vars.Type().IsObjectType() && !vars.Type().IsMapType() {
				return cty.NilVal, function.NewArgErrorf(1, "template variables must be an object or a map")
			}
			ctx := &hhcl.EvalContext{Variables: map[string]cty.Value{}, Functions: map[string]function.Function{}}
			for k, f := range fs {
				if k != "templatefile" {
					ctx.Functions[k] = f
				}
			}
			if !vars.IsNull() && vars.IsKnown() {
				for it := vars.ElementIterator(); it.Next(); {
					k, v := it.Element()
					ctx.Variables[k.AsString()] = v.WithMarks(marks)
				}
			}
			val, diags := expr.Value(ctx)
			if diags.HasErrors() {
				return cty.NilVal, fmt.Errorf("template %s: %s", path, diags.Error())
			}
			return val, nil
		},
	})
}
