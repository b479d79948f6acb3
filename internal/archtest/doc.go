// Package archtest holds the tests that enforce the project's structural
// rules: who may import whom (docs/architecture.md, "Who may import whom")
// and a doc comment on every exported identifier. It has no code of its
// own.
package archtest
