package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestExportedIdentifiersDocumented: every exported identifier a package of
// the module offers (functions, methods of exported types, types,
// constants, variables, fields of exported struct types and methods of
// exported interfaces) has a doc comment, as the project's standards ask.
// A constant or variable may share its group's comment, a field or an
// interface method may have a trailing comment instead, and a field may be
// covered by the comment of an earlier field of the same block that names
// it ("PartBytes and MetadataBytes are ..."). Generated files, tests and
// main packages (nothing imports them) are left out.
func TestExportedIdentifiersDocumented(t *testing.T) {
	root := filepath.Join("..", "..")
	var missing []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" || ast.IsGenerated(f) {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		for _, m := range undocumented(f) {
			missing = append(missing, rel+":"+strconv.Itoa(fset.Position(m.pos).Line)+": "+m.what)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("%d exported identifiers without a doc comment:\n%s", len(missing), strings.Join(missing, "\n"))
	}
}

// lack is one undocumented identifier.
type lack struct {
	pos  token.Pos
	what string
}

// undocumented lists f's exported identifiers that lack a doc comment.
func undocumented(f *ast.File) []lack {
	var out []lack
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if d.Name.IsExported() && d.Doc == nil && exportedReceiver(d) {
				out = append(out, lack{d.Pos(), "func " + d.Name.Name})
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					if s.Doc == nil && d.Doc == nil {
						out = append(out, lack{s.Pos(), "type " + s.Name.Name})
					}
					switch ty := s.Type.(type) {
					case *ast.StructType:
						out = append(out, undocumentedFields(s.Name.Name, ty.Fields)...)
					case *ast.InterfaceType:
						out = append(out, undocumentedFields(s.Name.Name, ty.Methods)...)
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() && s.Doc == nil && s.Comment == nil && d.Doc == nil {
							out = append(out, lack{n.Pos(), "value " + n.Name})
						}
					}
				}
			}
		}
	}
	return out
}

// exportedReceiver reports whether d is a function, or a method of an
// exported type (a method of an unexported type is no one's API).
func exportedReceiver(d *ast.FuncDecl) bool {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return true
	}
	t := d.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch g := t.(type) {
	case *ast.IndexExpr:
		t = g.X
	case *ast.IndexListExpr:
		t = g.X
	}
	id, ok := t.(*ast.Ident)
	return !ok || id.IsExported()
}

// undocumentedFields lists the exported fields (or interface methods) of
// list that have no comment of their own and are not named in the doc
// comment of the nearest field above them that has one.
func undocumentedFields(typ string, list *ast.FieldList) []lack {
	var out []lack
	above := "" // the doc comment of the nearest field above with one
	for _, fl := range list.List {
		if fl.Doc != nil {
			above = fl.Doc.Text()
		}
		for _, n := range fl.Names {
			if !n.IsExported() || fl.Doc != nil || fl.Comment != nil || mentions(above, n.Name) {
				continue
			}
			out = append(out, lack{n.Pos(), "field " + typ + "." + n.Name})
		}
	}
	return out
}

// mentions reports whether text names name as a word.
func mentions(text, name string) bool {
	return regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\b`).MatchString(text)
}
