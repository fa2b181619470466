// Package archtest holds the tests that enforce kumo's architecture rules
// (ARCHITECTURE.md §4), such as services never importing each other. It has
// no code of its own and must never be imported.
package archtest
