"""Scrapy settings for the pixelforge crawler. Every behaviour is a setting; override with -s."""

BOT_NAME = "pixelforge"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

ROBOTSTXT_OBEY = True
