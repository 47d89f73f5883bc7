from django.urls import path

from . import views

urlpatterns = [
    path("headers/", views.headers),
    path("whoami/", views.whoami),
    path("upload/", views.upload),
    path("download/", views.download),
    path("stream/", views.stream),
    path("redirect/", views.redirect),
    path("status/<int:code>/", views.status),
    path("slow/", views.slow),
    path("health/", views.health),
]
