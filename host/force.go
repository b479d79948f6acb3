package host

import (
	"reflect"
	"strings"

	"go.uber.org/fx"
)

// fx runs a constructor only when something asks for what it returns, so an
// add-on given as fx.Provide(NewUptime) would never be built: nothing in the
// node asks for *Uptime. Component therefore asks for everything its options
// provide. fx offers no way to list what an Option provides, so
// forceConstruction reads it the way fx itself does: an fx.Provide option is
// a struct whose exported Targets field holds the constructors, and
// fx.Options is a slice of options. A constructor wrapped in fx.Annotate is
// held there as fx's annotated value, whose exported Build method (the one
// fx.Provide calls) returns the constructor fx registers: forceTarget builds
// a copy of it only to read that constructor's result types, and never calls
// it.

var (
	optionType = reflect.TypeFor[fx.Option]()
	errorType  = reflect.TypeFor[error]()
	inType     = reflect.TypeFor[fx.In]()
	outType    = reflect.TypeFor[fx.Out]()
)

// forceConstruction returns one fx.Invoke per value the fx.Provide options
// among opts (looking inside fx.Options) construct, so that every provider
// runs, in the order given, whether or not anything else needs its value.
func forceConstruction(opts []fx.Option) []fx.Option {
	var out []fx.Option
	for _, o := range opts {
		out = append(out, forceOption(reflect.ValueOf(o))...)
	}
	return out
}

func forceOption(v reflect.Value) []fx.Option {
	if !v.IsValid() {
		return nil
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return forceOption(v.Elem())
	case reflect.Slice:
		// fx.Options: a slice of options.
		if !v.Type().Elem().Implements(optionType) && v.Type().Elem() != optionType {
			return nil
		}
		var out []fx.Option
		for i := range v.Len() {
			out = append(out, forceOption(v.Index(i))...)
		}
		return out
	case reflect.Struct:
		if !strings.HasSuffix(v.Type().String(), ".provideOption") {
			return nil
		}
		targets := v.FieldByName("Targets")
		if !targets.IsValid() || targets.Kind() != reflect.Slice {
			return nil
		}
		var out []fx.Option
		for i := range targets.Len() {
			out = append(out, forceTarget(targets.Index(i).Interface())...)
		}
		return out
	}
	return nil
}

// builder is what fx.Annotate returns, as fx.Provide sees it: Build returns
// the constructor with the annotations applied.
type builder interface {
	Build() (any, error)
}

// forceTarget returns the invokes that need every value one constructor
// provides.
func forceTarget(target any) []fx.Option {
	name, group := "", ""
	if a, ok := target.(fx.Annotated); ok {
		name, group, target = a.Name, a.Group, a.Target
	} else if ctor, ok := annotatedConstructor(target); ok {
		target = ctor
	}
	ft := reflect.TypeOf(target)
	if ft == nil || ft.Kind() != reflect.Func {
		return nil
	}
	var out []fx.Option
	for i := range ft.NumOut() {
		rt := ft.Out(i)
		if rt == errorType {
			continue
		}
		if isOutStruct(rt) {
			for j := range rt.NumField() {
				f := rt.Field(j)
				if f.Anonymous || !f.IsExported() {
					continue
				}
				g := f.Tag.Get("group")
				out = append(out, invokeNeeding(f.Type, f.Tag.Get("name"), strings.Split(g, ",")[0], strings.Contains(g, ",flatten")))
			}
			continue
		}
		out = append(out, invokeNeeding(rt, name, strings.Split(group, ",")[0], strings.Contains(group, ",flatten")))
	}
	return out
}

// annotatedConstructor returns the constructor fx builds from target when
// target is what fx.Annotate returned (its Build method is on the pointer,
// and Build rewrites the value's fields, so it runs on a copy). An
// annotation that does not build is left to fx, which reports it when the
// node starts; annotatedConstructor then returns false.
func annotatedConstructor(target any) (any, bool) {
	v := reflect.ValueOf(target)
	if !v.IsValid() || v.Kind() != reflect.Struct || !reflect.PointerTo(v.Type()).Implements(reflect.TypeFor[builder]()) {
		return nil, false
	}
	cp := reflect.New(v.Type())
	cp.Elem().Set(v)
	ctor, err := cp.Interface().(builder).Build()
	if err != nil {
		return nil, false
	}
	return ctor, true
}

func isOutStruct(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := range t.NumField() {
		if f := t.Field(i); f.Anonymous && f.Type == outType {
			return true
		}
	}
	return false
}

// invokeNeeding returns an fx.Invoke of a function that takes the value of
// type t (named, or a member of group) and does nothing with it.
func invokeNeeding(t reflect.Type, name, group string, flatten bool) fx.Option {
	if name == "" && group == "" {
		fn := reflect.MakeFunc(reflect.FuncOf([]reflect.Type{t}, nil, false),
			func([]reflect.Value) []reflect.Value { return nil })
		return fx.Invoke(fn.Interface())
	}
	tag := `name:"` + name + `"`
	if group != "" {
		// A group is consumed as a slice of its members.
		if !flatten {
			t = reflect.SliceOf(t)
		}
		tag = `group:"` + group + `"`
	}
	param := reflect.StructOf([]reflect.StructField{
		{Name: "In", Type: inType, Anonymous: true},
		{Name: "V", Type: t, Tag: reflect.StructTag(tag)},
	})
	fn := reflect.MakeFunc(reflect.FuncOf([]reflect.Type{param}, nil, false),
		func([]reflect.Value) []reflect.Value { return nil })
	return fx.Invoke(fn.Interface())
}
