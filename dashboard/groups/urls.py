from django.urls import path

from dashboard.groups import views

urlpatterns = [
    path("", views.index, name="groups"),
]
