//go:build !linux

package main

// checkHost refuses to run anywhere but on Linux, before up or down is reached.
func up(upOptions) error     { return checkHost() }
func down(downOptions) error { return checkHost() }
