// Package cputime reads the process's CPU time for the benchmark programs.
package cputime
