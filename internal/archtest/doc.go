// Package archtest holds the test that enforces the project's import rules
// (docs/architecture.md, "Who may import whom"). It has no code of its own.
package archtest
