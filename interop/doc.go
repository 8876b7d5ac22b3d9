// Package interop holds the interoperability tests of package webhook with
// the stock Standard Webhooks library for Node.js, the npm package
// standardwebhooks, pinned in package.json and package-lock.json. The
// tests need node on PATH and the package installed:
//
//	cd interop && npm ci
//	go test ./interop/
//
// Without either, they skip and say why. The package has no code of its
// own.
package interop
