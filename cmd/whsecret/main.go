// Command whsecret prints a new webhook signing secret: "whsec_" and the
// base64 of 32 random bytes, as webhook.NewSecret makes it. Give it to the
// Dispatcher (Config.SigningSecrets) and to the customer, who verifies
// with it.
//
//	go run github.com/stratakit/webhook/cmd/whsecret
package main

import (
	"fmt"
	"os"

	"github.com/stratakit/webhook"
)

func main() {
	secret, err := webhook.NewSecret()
	if err != nil {
		fmt.Fprintln(os.Stderr, "whsecret:", err)
		os.Exit(1)
	}
	fmt.Println(secret)
}
