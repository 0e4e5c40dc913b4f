# A canary that never turns healthy: the demo cluster reads the job meta key
# nomadtui_demo_fail ("unhealthy": checks never pass; "crash": the task exits with an error).
# With auto_revert the deployment fails at its progress deadline and Nomad rolls back to the
# latest stable version on its own.
job "httpsbackend-sni-1" {
  datacenters = ["dc1"]
  type        = "service"

  meta {
    nomadtui_demo_fail = "unhealthy"
  }

  group "httpsbackend-sni-1" {
    count = 3

    update {
      max_parallel      = 1
      min_healthy_time  = "30s"
      healthy_deadline  = "1m"
      progress_deadline = "2m"
      canary            = 1
      auto_revert       = true
    }

    network {
      port "https" {
        to = 7777
      }
    }

    task "httpsbackend-sni-1" {
      driver = "docker"

      config {
        image = "bigwhite/httpsbackendservice:v1.0.5"
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
        tags = ["urlprefix-mysite-sni-1.com/ proto=tcp+sni"]

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
