# Step 3, isolated canary: canary_tags give the v1.0.3 canary its own Fabio route
# (canary.mysite-sni-1.com/); production traffic stays on the old instances until promotion.
job "httpsbackend-sni-1" {
  datacenters = ["dc1"]
  type        = "service"

  group "httpsbackend-sni-1" {
    count = 3

    update {
      max_parallel     = 1
      min_healthy_time = "30s"
      healthy_deadline = "5m"
      canary           = 1
    }

    network {
      port "https" {
        to = 7777
      }
    }

    task "httpsbackend-sni-1" {
      driver = "docker"

      config {
        image = "bigwhite/httpsbackendservice:v1.0.3"
        ports = ["https"]

        logging {
          type = "json-file"
        }
      }

      resources {
        cpu    = 100
        memory = 64
      }

      service {
        name = "httpsbackend-sni-1"
        port = "https"
        tags        = ["urlprefix-mysite-sni-1.com/ proto=tcp+sni"]
        canary_tags = ["urlprefix-canary.mysite-sni-1.com/ proto=tcp+sni"]

        check {
          name     = "alive"
          type     = "tcp"
          interval = "10s"
          timeout  = "2s"
        }
      }
    }
  }
}
