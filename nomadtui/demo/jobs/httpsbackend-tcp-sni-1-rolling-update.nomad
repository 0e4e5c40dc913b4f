# Step 1, rolling update: v1.0.1 replaces one instance at a time (max_parallel = 1);
# each replacement must stay healthy for min_healthy_time before the next one starts.
job "httpsbackend-sni-1" {
  datacenters = ["dc1"]
  type        = "service"

  group "httpsbackend-sni-1" {
    count = 3

    update {
      max_parallel     = 1
      min_healthy_time = "30s"
      healthy_deadline = "5m"
    }

    network {
      port "https" {
        to = 7777
      }
    }

    task "httpsbackend-sni-1" {
      driver = "docker"

      config {
        image = "bigwhite/httpsbackendservice:v1.0.1"
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
