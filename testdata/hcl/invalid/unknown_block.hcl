runbook "t" {}

resource "aws_instance" "web" {}
