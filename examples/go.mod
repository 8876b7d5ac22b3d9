module github.com/stratakit/webhook/examples

go 1.26

require github.com/stratakit/webhook v0.0.0

replace github.com/stratakit/webhook => ../
